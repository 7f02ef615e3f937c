export type { Session, SessionInit, SessionPatch, SessionStore, Turn } from './types';
export { SESSION_STATES } from './types';
export { RedisSessionStore } from './redis-store';
export { MemorySessionStore } from './memory-store';
export { callKeys } from './codec';
