export type { CustomerView, VehicleView, UpcomingAppointment, NewCustomer } from './types';
export { CustomerRepository } from './repository';
export { CustomerDirectory } from './directory';
