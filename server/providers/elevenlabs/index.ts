export { ElevenLabsTts, type ElevenLabsTtsOptions } from './tts';
