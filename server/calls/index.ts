export { CallRepository, type CallTurn, type CallLatency } from './repository';
