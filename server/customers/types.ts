export interface VehicleView {
  id: string;
  year: number;
  make: string;
  model: string;
}

export interface UpcomingAppointment {
  id: string;
  startsAt: string;
  endsAt: string;
  serviceCode: string;
  serviceName: string;
  vehicleId: string | null;
}

/** What the agent knows about a caller: cached (encrypted) under the phone's blind index. */
export interface CustomerView {
  id: string;
  name: string | null;
  firstName: string | null;
  email: string | null;
  vehicles: VehicleView[];
  upcoming: UpcomingAppointment[];
  lastServiceDate: string | null;
}

export interface NewCustomer {
  phone: string;
  name?: string | null;
  email?: string | null;
}
