/**
 * The tools the model may call (CONTRACT.md § Tools). The descriptions are the model's only
 * documentation, so they state the rules the executor enforces anyway: dealership-local times,
 * this caller only, and read-back-then-confirm before any write. The zod schemas below are what the
 * executor actually accepts; keep the two in step.
 */
import { z } from 'zod';
import type { ToolSpec } from '../../providers/types';

export const TOOL = {
  findAvailability: 'find_availability',
  getCustomerVehicles: 'get_customer_vehicles',
  bookAppointment: 'book_appointment',
  listMyAppointments: 'list_my_appointments',
  rescheduleAppointment: 'reschedule_appointment',
  cancelAppointment: 'cancel_appointment',
  dealershipInfo: 'dealership_info',
  transferToHuman: 'transfer_to_human',
  endCall: 'end_call',
} as const;
export type ToolName = (typeof TOOL)[keyof typeof TOOL];

const CONFIRM =
  'Before it writes anything this tool returns error NEEDS_CONFIRMATION with a `readBack` sentence: read it to the caller, ask "Shall I go ahead?", and call the tool again with exactly the same arguments only after the caller clearly says yes in a new turn. If they say no or change something, do not call it again with the old arguments.';

const serviceCode = {
  type: 'string',
  description:
    'Service type code, e.g. OIL (oil change), ROTATE (tire rotation), BRAKES, DIAG (diagnostic), BATTERY, ALIGN (alignment). dealership_info with topic "services" lists them.',
};
const localDateTime = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}$',
  description:
    'Start time in dealership local time, YYYY-MM-DDTHH:mm, exactly as find_availability returned it.',
};
const appointmentId = {
  type: 'string',
  description: "The id of one of this caller's appointments, as list_my_appointments returned it.",
};
const noArguments = { type: 'object', properties: {}, additionalProperties: false };

function fn(name: ToolName, description: string, parameters: Record<string, unknown>): ToolSpec {
  return { type: 'function', function: { name, description, parameters } };
}

export const TOOL_SPECS: ToolSpec[] = [
  fn(
    TOOL.findAvailability,
    'Find open appointment start times for a service on one day. Times are dealership local time. "morning" is opening time to 12:00, "afternoon" 12:00 to closing. Offer the caller one or two of the returned times; never invent a time that was not returned. Errors: CLOSED (the dealership is closed that day), DATE_IN_PAST, UNKNOWN_SERVICE.',
    {
      type: 'object',
      properties: {
        serviceCode,
        date: {
          type: 'string',
          pattern: '^\\d{4}-\\d{2}-\\d{2}$',
          description: 'The day, YYYY-MM-DD in dealership local time.',
        },
        partOfDay: {
          type: 'string',
          enum: ['morning', 'afternoon', 'any'],
          description: 'Only morning or only afternoon slots; default any.',
        },
      },
      required: ['serviceCode', 'date'],
      additionalProperties: false,
    },
  ),
  fn(
    TOOL.getCustomerVehicles,
    "The identified caller's vehicles on file (id, year, make, model). Empty for a new caller: then ask for year, make and model and pass them as `vehicle` when booking.",
    noArguments,
  ),
  fn(
    TOOL.bookAppointment,
    `Book a service appointment for the caller at a time find_availability offered. For a known caller pass vehicleId from get_customer_vehicles (or \`vehicle\` if the car is not on file). A new caller must give their name (customerName), spelled back to them. ${CONFIRM} Errors: SLOT_TAKEN (offer another time), OUTSIDE_HOURS, UNKNOWN_SERVICE, VEHICLE_NOT_FOUND, VEHICLE_REQUIRED (ask which car), NAME_REQUIRED.`,
    {
      type: 'object',
      properties: {
        serviceCode,
        startsAt: localDateTime,
        vehicleId: { type: 'string', description: 'Id of a vehicle from get_customer_vehicles.' },
        vehicle: {
          type: 'object',
          description: 'The car, when it is not on file.',
          properties: {
            year: { type: 'integer', minimum: 1900, maximum: 2100 },
            make: { type: 'string' },
            model: { type: 'string' },
          },
          required: ['year', 'make', 'model'],
          additionalProperties: false,
        },
        customerName: {
          type: 'string',
          description: "New callers only: the caller's full name as they gave it.",
        },
        notes: {
          type: 'string',
          description: 'Short note for the technician (symptoms, requests). No payment details.',
        },
      },
      required: ['serviceCode', 'startsAt'],
      additionalProperties: false,
    },
  ),
  fn(
    TOOL.listMyAppointments,
    "The caller's own upcoming appointments (id, startsAt local time, service, vehicle). Use it before rescheduling or cancelling, to get the appointment id.",
    noArguments,
  ),
  fn(
    TOOL.rescheduleAppointment,
    `Move one of the caller's own appointments to a new start time (check it with find_availability first, same service). The old time is released only if the new one is booked. ${CONFIRM} Errors: APPOINTMENT_NOT_FOUND, SLOT_TAKEN, OUTSIDE_HOURS.`,
    {
      type: 'object',
      properties: { appointmentId, startsAt: localDateTime },
      required: ['appointmentId', 'startsAt'],
      additionalProperties: false,
    },
  ),
  fn(
    TOOL.cancelAppointment,
    `Cancel one of the caller's own appointments. ${CONFIRM} Errors: APPOINTMENT_NOT_FOUND.`,
    {
      type: 'object',
      properties: { appointmentId },
      required: ['appointmentId'],
      additionalProperties: false,
    },
  ),
  fn(
    TOOL.dealershipInfo,
    'Facts about the dealership: opening hours, address and phone, services offered, prices. Answer from this, never from memory.',
    {
      type: 'object',
      properties: { topic: { type: 'string', enum: ['hours', 'address', 'services', 'prices'] } },
      required: ['topic'],
      additionalProperties: false,
    },
  ),
  fn(
    TOOL.transferToHuman,
    'Hand the call to a human service advisor: when the caller asks for a person, is upset, or needs something these tools cannot do. First tell the caller you are transferring them; the transfer happens after that sentence has played.',
    {
      type: 'object',
      properties: { reason: { type: 'string', description: 'Why, in a few words, for the advisor.' } },
      required: ['reason'],
      additionalProperties: false,
    },
  ),
  fn(
    TOOL.endCall,
    'End the call once the caller has nothing else. Say goodbye first; the line closes after the goodbye has played.',
    noArguments,
  ),
];

const text = (max: number) => z.string().trim().min(1).max(max);
const localDateTimeArg = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/, 'startsAt is YYYY-MM-DDTHH:mm');
// Models send null for "not given" as often as they leave the field out.
const optional = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);

/** What the executor accepts per tool; unknown keys (customerId, say) are dropped, never used. */
export const TOOL_ARGS = {
  [TOOL.findAvailability]: z.object({
    serviceCode: text(32),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'date is YYYY-MM-DD'),
    partOfDay: optional(z.enum(['morning', 'afternoon', 'any'])),
  }),
  [TOOL.getCustomerVehicles]: z.object({}),
  [TOOL.bookAppointment]: z.object({
    serviceCode: text(32),
    startsAt: localDateTimeArg,
    vehicleId: optional(text(64)),
    vehicle: optional(
      z.object({
        year: z.union([
          z.number().int(),
          z
            .string()
            .regex(/^\d{4}$/)
            .transform(Number),
        ]),
        make: text(40),
        model: text(60),
      }),
    ),
    customerName: optional(z.string().max(100)),
    notes: optional(z.string().max(2000)),
  }),
  [TOOL.listMyAppointments]: z.object({}),
  [TOOL.rescheduleAppointment]: z.object({ appointmentId: text(64), startsAt: localDateTimeArg }),
  [TOOL.cancelAppointment]: z.object({ appointmentId: text(64) }),
  [TOOL.dealershipInfo]: z.object({ topic: z.enum(['hours', 'address', 'services', 'prices']) }),
  // A caller who wants a person is never held up by a missing reason.
  [TOOL.transferToHuman]: z.object({ reason: optional(z.string().max(500)) }),
  [TOOL.endCall]: z.object({}),
} as const;

export type ToolArgs = { [K in ToolName]: z.output<(typeof TOOL_ARGS)[K]> };
