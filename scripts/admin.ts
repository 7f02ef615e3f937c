/** `npm run admin -- <command>`: operator commands. */
import { addDevPiiKey } from '../server/platform/dev-keys';
import { PiiCipher, formatKeyList, newKey } from '../server/platform/crypto';
import { rotatePii } from '../server/platform/pii-rotation';
import { DATA_DIR } from '../server/runtime';
import { withRuntime, fail } from './cli';

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

async function main(): Promise<void> {
  switch (command) {
    case 'rotate-pii-key':
      return rotatePiiKey();
    default:
      fail('usage: npm run admin -- rotate-pii-key [--generate]');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
