/**
 * The bookings component's public face: the service, the dealership's facts, availability, and the
 * shapes that cross its boundary. Times are dealership-local `YYYY-MM-DDTHH:mm` unless said.
 */
import type { AppointmentStatus } from './repository';

export { BookingService } from './service';
export { BookingRepository, APPOINTMENT_STATUSES, type AppointmentStatus } from './repository';
export {
  DealershipRepository,
  loadDealership,
  dealershipFacts,
  findService,
  INFO_TOPICS,
  type Dealership,
  type ServiceType,
  type Bay,
  type InfoTopic,
} from './dealership';
export {
  findSlots,
  freeBays,
  checkBookable,
  PART_OF_DAY,
  MIN_LEAD_MINUTES,
  type PartOfDay,
  type BookedInterval,
} from './availability';

export interface VehicleInput {
  year: number;
  make: string;
  model: string;
}

export interface BookInput {
  /** The identified caller, or null for a new caller (a customer is created from callerPhone). */
  customerId: string | null;
  callerPhone?: string | null;
  customerName?: string | null;
  serviceCode: string;
  startsAt: string;
  vehicleId?: string | null;
  vehicle?: VehicleInput | null;
  notes?: string | null;
  source: 'phone' | 'staff';
  callSid?: string | null;
  idempotencyKey?: string | null;
}

/** What a caller is asked to confirm before a booking is written. */
export interface BookingPreview {
  service: { code: string; name: string };
  startsAt: string;
  endsAt: string;
  vehicle: VehicleInput | null;
  /** Only for a new caller: the name the customer record will carry. */
  customerName: string | null;
}

export interface UpcomingItem {
  id: string;
  startsAt: string;
  endsAt: string;
  status: AppointmentStatus;
  service: { code: string; name: string };
  vehicle: (VehicleInput & { id: string }) | null;
  bayId: number;
}

export interface AppointmentSummary extends UpcomingItem {
  bay: { id: number; name: string };
}

/** CONTRACT.md § Routes, GET /api/appointments. Times ISO 8601 with the dealership's offset. */
export interface StaffAppointment {
  id: string;
  startsAt: string;
  endsAt: string;
  status: AppointmentStatus;
  service: { code: string; name: string };
  bay: { id: number; name: string };
  customer: { id: string; name: string | null; phoneMasked: string };
  vehicle: VehicleInput | null;
  source: 'phone' | 'staff';
  callSid: string | null;
}
