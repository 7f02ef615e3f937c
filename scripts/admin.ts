/** `npm run admin -- <command>`: operator commands. */
import { addDevPiiKey } from '../server/platform/dev-keys';
import { PiiCipher, formatKeyList, newKey } from '../server/platform/crypto';
import { rotatePii } from '../server/platform/pii-rotation';
import { AppError } from '../server/platform/errors';
import { DATA_DIR } from '../server/runtime';
import { Accounts } from '../server/dashboard/accounts';
import { AuditLog, type AuditAction } from '../server/dashboard/audit';
import type { Db } from '../server/platform/postgres';
import { withRuntime, fail, argValue } from './cli';

const [command, ...args] = process.argv.slice(2);

async function rotatePiiKey(): Promise<void> {
  await withRuntime(async (rt, config) => {
    let cipher = rt.cipher;
    if (!config.piiKeys) {
      // Demo keys live in ./data: add the next version there, then re-encrypt under it.
      const keys = await addDevPiiKey(DATA_DIR);
      cipher = new PiiCipher(keys.piiKeys, keys.piiIndexKey);
      console.error(`added PII key version ${cipher.currentVersion} to ./data/dev-keys.json`);
    } else if (args.includes('--generate')) {
      const next = new Map(config.piiKeys);
      next.set(cipher.currentVersion + 1, newKey());
      console.error('Deploy this PII_KEYS to every instance, then run rotate-pii-key again to re-encrypt:');
      console.log(formatKeyList(next));
      return;
    }
    const report = await rotatePii(rt.db, cipher);
    console.log(JSON.stringify(report));
  });
}

/** Changes made from the command line are audited too: actor system, id "cli". */
const cliAudit = (rt: { db: Db }, action: AuditAction, target: { type: string; id: string }, role: string) =>
  new AuditLog(rt.db).record({
    actor: { type: 'system', id: 'cli' },
    action,
    target,
    ip: null,
    details: { role },
  });

async function createUser(): Promise<void> {
  const email = argValue(args, '--email');
  const role = argValue(args, '--role') ?? 'staff';
  if (!email) fail('usage: npm run admin -- create-user --email E --role staff|admin');
  await withRuntime(async (rt) => {
    const { user, password } = await new Accounts(rt.db).createUser(email, role);
    await cliAudit(rt, 'user.create', { type: 'staff_user', id: user.id }, user.role);
    console.error(`created ${user.role} ${user.email}; one-time password (must be changed at first login):`);
    console.log(password);
  });
}

async function createApiKey(): Promise<void> {
  const name = argValue(args, '--name');
  const role = argValue(args, '--role') ?? 'staff';
  if (!name) fail('usage: npm run admin -- create-api-key --name N --role staff|admin');
  await withRuntime(async (rt) => {
    const { key, row } = await new Accounts(rt.db).createApiKey(name, role);
    await cliAudit(rt, 'api_key.create', { type: 'api_key', id: row.id }, row.role);
    console.error(
      `created ${row.role} API key "${row.name}" (prefix ${row.prefix}); it is shown once, below:`,
    );
    console.log(key);
  });
}

const USAGE = [
  'usage: npm run admin -- <command>',
  '  create-user --email E --role staff|admin   prints a one-time password',
  '  create-api-key --name N --role staff|admin prints the key once (last line of stdout)',
  '  rotate-pii-key [--generate]                re-encrypts PII under the newest key',
].join('\n');

async function main(): Promise<void> {
  switch (command) {
    case 'rotate-pii-key':
      return rotatePiiKey();
    case 'create-user':
      return createUser();
    case 'create-api-key':
      return createApiKey();
    default:
      fail(USAGE);
  }
}

main().catch((err: unknown) => {
  // Expected refusals (a duplicate e-mail, a bad role) are one line, not a stack trace.
  if (err instanceof AppError && err.statusCode < 500) {
    console.error(`${err.code}: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
