import type { BookingService } from '../../bookings';
import type { CustomerView } from '../../customers';
import type { ToolSpec } from '../../providers/types';
import { spokenWhen } from './confirm';

export const SMS_TOOL: ToolSpec = {
  type: 'function',
  function: {
    name: 'send_confirmation_sms',
    description:
      'Texts the caller a confirmation of one of their upcoming appointments. Offer it after a booking or a change, and call it only after the caller says yes to a text.',
    parameters: {
      type: 'object',
      properties: {
        appointmentId: {
          type: 'string',
          description: 'The appointment to confirm (from a booking result or list_my_appointments).',
        },
      },
      required: ['appointmentId'],
      additionalProperties: false,
    },
  },
};

export interface SmsSender {
  sendSms(to: string, from: string, body: string): Promise<unknown>;
}

/**
 * The booking confirmation by text: only to the number that is calling, only for that caller's own
 * upcoming appointment, and once per appointment per call.
 */
export class ConfirmationSms {
  readonly #sent = new Set<string>();

  constructor(
    private readonly o: {
      bookings: BookingService;
      sms: SmsSender;
      dealershipName: () => Promise<string>;
      callerPhone: string | null;
      dealershipNumber: string | null;
      getCustomer: () => CustomerView | null;
    },
  ) {}

  async send(argsJson: string): Promise<unknown> {
    let appointmentId: unknown;
    try {
      appointmentId = (JSON.parse(argsJson || '{}') as { appointmentId?: unknown }).appointmentId;
    } catch {
      return { error: { code: 'INVALID_ARGUMENTS', message: 'Arguments must be JSON with appointmentId' } };
    }
    const customer = this.o.getCustomer();
    if (typeof appointmentId !== 'string')
      return { error: { code: 'INVALID_ARGUMENTS', message: 'appointmentId is required' } };
    if (!customer || !this.o.callerPhone || !this.o.dealershipNumber) {
      return { error: { code: 'SMS_UNAVAILABLE', message: 'No number to text on this call' } };
    }
    if (this.#sent.has(appointmentId)) return { sent: true, repeated: true };
    try {
      const appt = await this.o.bookings.getOwnUpcoming(customer.id, appointmentId);
      const name = await this.o.dealershipName();
      const vehicle = appt.vehicle
        ? ` for your ${appt.vehicle.year} ${appt.vehicle.make} ${appt.vehicle.model}`
        : '';
      const body = `${name}: your ${appt.service.name.toLowerCase()}${vehicle} is booked for ${spokenWhen(appt.startsAt)}. Call us to make changes.`;
      await this.o.sms.sendSms(this.o.callerPhone, this.o.dealershipNumber, body);
      this.#sent.add(appointmentId);
      return { sent: true };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return {
        error: {
          code: e.code === 'APPOINTMENT_NOT_FOUND' ? e.code : 'SMS_FAILED',
          message: e.message ?? 'The text could not be sent',
        },
      };
    }
  }
}
