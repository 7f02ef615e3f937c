/**
 * The node flags the server runs with: `npm start` passes exactly SERVER_NODE_FLAGS (the load test
 * starts its server with the same list), and on this Node they do cap the young generation.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SERVER_NODE_FLAGS } from '../../../server/platform/node-flags';

const REPO = path.resolve(__dirname, '../../..');

// Keeps 20,000 small objects alive in a ring while allocating 3 million: survivors make V8 grow
// the young generation. Prints the largest new-space size seen, in MB (two semi-spaces).
const GROW_NEW_SPACE = `
const v8 = require('node:v8');
const ring = new Array(20000);
let max = 0;
for (let i = 0; i < 3e6; i++) {
  ring[i % 20000] = { a: i, b: [i, i + 1, i + 2] };
  if (i % 10000 === 0) {
    const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size;
    if (s > max) max = s;
  }
}
process.stdout.write(String(max / 1048576));
`;

function maxNewSpaceMb(flags: readonly string[]): number {
  return Number(execFileSync(process.execPath, [...flags, '-e', GROW_NEW_SPACE], { encoding: 'utf8' }));
}

describe('SERVER_NODE_FLAGS', () => {
  it("are the flags of package.json's start script, right before the entry point", () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toContain(`node ${SERVER_NODE_FLAGS.join(' ')} dist/server/main.js`);
  });

  it('cap the young generation at two 8 MB semi-spaces, which V8 would otherwise grow past', () => {
    expect(maxNewSpaceMb(SERVER_NODE_FLAGS)).toBeLessThanOrEqual(16);
    expect(maxNewSpaceMb([])).toBeGreaterThan(16);
  });
});
