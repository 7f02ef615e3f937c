/**
 * Lazy barrels, on a small package laid out as generated SDKs are. Jest keeps its own module
 * registry and ignores writes to `require.cache`, so each case runs in a child Node process with
 * Node's own loader, and compares what the lazy barrel gives with what Node's eager load gives.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseBarrel } from '../../../server/providers/lazy-barrels';

const REPO = path.resolve(__dirname, '../../..');
const LAZY = path.join(REPO, 'server/providers/lazy-barrels.ts');

/** TypeScript's helpers, shortened but with their semantics, and free of `require(`. */
const HELPERS = `"use strict";
// This file was auto-generated.
var __createBinding = function (o, m, k) { Object.defineProperty(o, k, { enumerable: true, get: function () { return m[k]; } }); };
var __exportStar = function (m, exports) { for (var p in m) if (p !== "default" && !Object.prototype.hasOwnProperty.call(exports, p)) __createBinding(exports, m, p); };
var __importStar = function (mod) { if (mod && mod.__esModule) return mod; var r = {}; for (var k in mod) if (k !== "default") __createBinding(r, mod, k); r.default = mod; return r; };
Object.defineProperty(exports, "__esModule", { value: true });
`;
const leaf = (name: string, body: string) =>
  `"use strict";\n(globalThis.loaded ??= []).push(${JSON.stringify(name)});\nObject.defineProperty(exports, "__esModule", { value: true });\n${body}\n`;

const FILES: Record<string, string> = {
  'lib/index.js': `${HELPERS}exports.tools = void 0;
exports.tools = __importStar(require("./tools"));
__exportStar(require("./types"), exports);
__exportStar(require("./resources/billing/types"), exports);
__exportStar(require("./extra"), exports);
`,
  'lib/types/index.js': `${HELPERS}__exportStar(require("./Alpha"), exports);
__exportStar(require("./Beta"), exports);
`,
  'lib/types/Alpha.js': leaf('Alpha', 'exports.Alpha = { kind: "alpha" };'),
  // A cycle back through the barrel, as generated serialisers have: read at call time.
  'lib/types/Beta.js': leaf(
    'Beta',
    'const lib = require("../index");\nexports.Beta = { kind: "beta", alpha: () => lib.Alpha };',
  ),
  'lib/resources/billing/types/index.js': `${HELPERS}__exportStar(require("./Invoice"), exports);\n`,
  'lib/resources/billing/types/Invoice.js': leaf('Invoice', 'exports.Invoice = { kind: "invoice" };'),
  // Not a barrel: code of its own.
  'lib/tools/index.js': `"use strict";\n(globalThis.loaded ??= []).push("tools");\nexports.version = 3;\n`,
  // Defines names that are not its file's name.
  'lib/extra.js': leaf('extra', 'exports.Odd = { kind: "odd" };\nexports.Even = { kind: "even" };'),
};

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bayline-barrels-'));
  for (const [file, text] of Object.entries(FILES)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `body` in a child Node process with `lib` bound to the package's barrel (registered lazy
 * unless `eager`), and returns what it printed as JSON, plus the modules loaded in order.
 */
interface Ran {
  out: unknown;
  /** The package's modules, in the order they ran. */
  loaded: string[];
}

function run(body: string, opts: { eager?: boolean; before?: string } = {}): Ran {
  const script = `
const path = require('node:path');
const root = ${JSON.stringify(dir)};
${opts.before ?? ''}
${opts.eager ? '' : `require(${JSON.stringify(LAZY)}).registerLazyBarrels(root, ['lib/index.js']);`}
const lib = require(path.join(root, 'lib'));
const out = (() => { ${body} })();
process.stdout.write(JSON.stringify({ out, loaded: globalThis.loaded ?? [] }));
`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as Ran;
}

describe('lazy barrels', () => {
  it('loads only the file that defines a name, through nested barrels', () => {
    expect(run('return lib.Alpha')).toEqual({ out: { kind: 'alpha' }, loaded: ['Alpha'] });
    expect(run('return lib.Invoice')).toEqual({ out: { kind: 'invoice' }, loaded: ['Invoice'] });
  });

  it('loads a namespace as __importStar would, and a folder that is not a barrel as Node does', () => {
    expect(run('return { version: lib.tools.version, default: lib.tools.default }')).toEqual({
      out: { version: 3, default: { version: 3 } },
      loaded: ['tools'],
    });
  });

  it('reads a cycle back through the barrel at call time', () => {
    expect(run('return lib.Beta.alpha()')).toEqual({ out: { kind: 'alpha' }, loaded: ['Beta', 'Alpha'] });
  });

  it('finds a name defined under another file name by loading the barrel as Node would', () => {
    const lazy = run('return [lib.Odd, lib.Even]');
    expect(lazy.out).toEqual([{ kind: 'odd' }, { kind: 'even' }]);
    expect(lazy.loaded).toEqual(run('return [lib.Odd, lib.Even]', { eager: true }).loaded);
  });

  it('lists the same names, in the same order, as the eager barrel', () => {
    const names = 'return Object.keys(lib)';
    const eager = run(names, { eager: true }).out as string[];
    expect(eager).toEqual(['tools', 'Alpha', 'Beta', 'Invoice', 'Odd', 'Even']);
    expect(run(names).out).toEqual(eager);
    expect(run('return ["Alpha" in lib, "Nope" in lib, lib.Nope === undefined]').out).toEqual([
      true,
      false,
      true,
    ]);
  });

  it('uses a nested barrel Node has already loaded instead of loading the whole barrel', () => {
    const before = `require(path.join(root, 'lib/resources/billing/types'));`;
    expect(run('return lib.Invoice', { before })).toEqual({ out: { kind: 'invoice' }, loaded: ['Invoice'] });
  });

  it('leaves a barrel Node has already loaded to Node', () => {
    const before = `require(path.join(root, 'lib')); globalThis.loaded = [];`;
    expect(run('return lib.Alpha', { before })).toEqual({ out: { kind: 'alpha' }, loaded: [] });
  });
});

describe('parseBarrel', () => {
  it('reads namespaces and star exports in order', () => {
    expect(parseBarrel(FILES['lib/index.js'] as string)).toEqual({
      declared: ['tools'],
      children: [
        { kind: 'namespace', name: 'tools', request: './tools' },
        { kind: 'star', request: './types', name: 'types' },
        { kind: 'star', request: './resources/billing/types', name: 'types' },
        { kind: 'star', request: './extra', name: 'extra' },
      ],
    });
  });

  it('declares names in the order `a = b = void 0` creates them: right to left', () => {
    expect(parseBarrel(`${HELPERS}exports.zeta = exports.alpha = void 0;\n`)).toEqual({
      declared: ['alpha', 'zeta'],
      children: [],
    });
  });

  it('refuses a file that does anything else', () => {
    expect(parseBarrel(FILES['lib/tools/index.js'] as string)).toBeUndefined();
    expect(parseBarrel(`${HELPERS}__exportStar(require("./a"), exports);\nexports.x = 1;\n`)).toBeUndefined();
    expect(parseBarrel(`const a = require("./a");\n${HELPERS}`)).toBeUndefined();
    expect(parseBarrel(`${HELPERS}__exportStar(require("other-package"), exports);\n`)).toBeUndefined();
  });
});
