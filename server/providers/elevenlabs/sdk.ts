/**
 * The ElevenLabs SDK, loaded with its API-type and serialiser barrels lazy (see lazy-barrels.ts).
 * Importing it then loads 271 of its 5,439 modules, about 400 once it has spoken: 7.9 instead of
 * 31.8 MB of heap (each mark-compact marks it), 31 instead of 99 MB of RSS per process, and 0.18
 * instead of 1.0 s (SDK 2.73.0, Node 20, this repo's 2-vCPU host). The first request loads the
 * 132 modules it uses (a 12 ms pause of the event loop); the server's phrase warm-up at start makes
 * that request before any call.
 */
import { dirname } from 'node:path';
import { registerLazyBarrels } from '../lazy-barrels';

type Sdk = typeof import('@elevenlabs/elevenlabs-js');

/** Every barrel the clients' modules require: the API types and the serialisers. */
export const SDK_BARRELS = ['api/index.js', 'serialization/index.js'] as const;

let sdk: Sdk | undefined;

export function elevenLabsSdk(): Sdk {
  if (sdk) return sdk;
  registerLazyBarrels(dirname(require.resolve('@elevenlabs/elevenlabs-js/package.json')), SDK_BARRELS);
  // After the barrels are registered: an import at the top would load the SDK before them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  sdk = require('@elevenlabs/elevenlabs-js') as Sdk;
  return sdk;
}
