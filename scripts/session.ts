/** `npm run session -- CALL_SID`: a live call's session and turns, decrypted, for ops. */
import { withRuntime, fail } from './cli';

const callSid = process.argv[2];
if (!callSid) fail('usage: npm run session -- CALL_SID');

withRuntime(async (rt) => {
  const session = await rt.sessions.get(callSid);
  if (!session) fail(`no live session for ${callSid}`);
  const turns = await rt.sessions.turns(callSid);
  const ttlMs = await rt.sessions.ttlMs(callSid);
  console.log(JSON.stringify({ session, ttlSeconds: Math.round(ttlMs / 1000), turns }, null, 2));
}).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
