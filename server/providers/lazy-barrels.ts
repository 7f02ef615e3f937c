/**
 * Lazy barrels: load a generated SDK without loading all of it.
 *
 * A barrel is an `index.js` that only re-exports its folder, as TypeScript emits it:
 * `exports.x = __importStar(require("./x"))` and `__exportStar(require("./y"), exports)`. Requiring
 * one requires everything below it. The ElevenLabs SDK's API types and serialisers hang off two
 * such barrels: importing the SDK loads 5,439 modules, holds 32 MB of heap (every mark-compact marks
 * it again) and takes 1 s, for a client that uses a few dozen of them.
 *
 * `registerLazyBarrels` puts a lazy module in `require.cache` for each named barrel before the SDK
 * loads. The SDK's own `require` then gets an object whose names load on first use: a namespace
 * loads its module, and any other name loads the file named after it, where generated code defines
 * each type. The SDK's code runs unchanged; only when it runs changes. Anything that is not plainly
 * a barrel loads as usual, and a name not found by file name, or a request for every name (`for
 * in`, `Object.keys`), loads the whole barrel as Node would have and reads from that.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';

type Child =
  { kind: 'namespace'; name: string; request: string } | { kind: 'star'; request: string; name: string };

const NAMESPACE = /^exports\.([A-Za-z_$][\w$]*) = __importStar\(require\("(\.{1,2}\/[^"]+)"\)\);$/;
const STAR = /^__exportStar\(require\("(\.{1,2}\/[^"]+)"\), exports\);$/;
const VOID_EXPORTS = /^(?:exports\.[A-Za-z_$][\w$]* = )+void 0;$/;
const ES_MODULE_MARK = 'Object.defineProperty(exports, "__esModule", { value: true });';

export interface Barrel {
  /** Names declared up front (`exports.b = exports.a = void 0`), in the order they are created. */
  declared: string[];
  /** The re-exports, in order. */
  children: Child[];
}

/**
 * What a barrel file re-exports, or undefined when the file does anything else. Before the
 * `__esModule` mark only TypeScript's helpers may stand (nothing there may `require`).
 */
export function parseBarrel(source: string): Barrel | undefined {
  const mark = source.indexOf(ES_MODULE_MARK);
  if (mark < 0 || source.slice(0, mark).includes('require(')) return undefined;
  const declared: string[] = [];
  const children: Child[] = [];
  for (const raw of source.slice(mark + ES_MODULE_MARK.length).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('//')) continue;
    if (VOID_EXPORTS.test(line)) {
      // `a = b = void 0` assigns b first.
      const names = [...line.matchAll(/exports\.([A-Za-z_$][\w$]*) = /g)].map((m) => m[1] as string);
      declared.push(...names.reverse());
      continue;
    }
    const ns = NAMESPACE.exec(line);
    if (ns) {
      children.push({ kind: 'namespace', name: ns[1] as string, request: ns[2] as string });
      continue;
    }
    const star = STAR.exec(line);
    if (!star) return undefined;
    const request = star[1] as string;
    children.push({ kind: 'star', request, name: basename(request) });
  }
  return { declared, children };
}

type NestedBarrel = LazyBarrel & { proxy: Record<string, unknown> };

/** What a lazy barrel's proxy does, kept apart from the proxy so its traps stay small. */
class LazyBarrel {
  /** The exports object, as `__createBinding` would have filled it: live getters. */
  readonly target: Record<string | symbol, unknown> = Object.defineProperty({}, '__esModule', {
    value: true,
  });
  readonly #file: string;
  readonly #declared: string[];
  readonly #children: Child[];
  readonly #require: NodeRequire;
  #entries: Set<string> | undefined;
  /** What each star child's request turned out to be (see #nestedBarrel), once looked at. */
  readonly #nested = new Map<string, NestedBarrel | Record<string, unknown> | null>();
  #complete = false;

  constructor(file: string, { declared, children }: Barrel) {
    this.#file = file;
    this.#declared = declared;
    this.#children = children;
    this.#require = createRequire(file);
  }

  /** Binds `name` from the child that defines it by the generated layout; false when none does. */
  find(name: string): boolean {
    if (Object.hasOwn(this.target, name)) return true;
    for (const child of this.#children) {
      if (child.kind === 'namespace') {
        if (child.name !== name) continue;
        this.target[name] = namespaceOf(this.#require(child.request));
        return true;
      }
      const nested = this.#nestedBarrel(child.request);
      if (nested instanceof LazyBarrel) {
        if (nested.find(name)) {
          bind(this.target, name, nested.proxy);
          return true;
        }
      } else if (nested) {
        if (name in nested) {
          bind(this.target, name, nested);
          return true;
        }
      } else if (child.name === name) {
        const exports = this.#require(child.request) as Record<string, unknown>;
        if (name in exports) {
          bind(this.target, name, exports);
          return true;
        }
      }
    }
    return false;
  }

  /** Before a read of `key`: binds it from its own file, or, when none defines it, loads all. */
  bindOrComplete(key: string | symbol): void {
    if (typeof key === 'string' && !Object.hasOwn(this.target, key) && !this.find(key)) this.complete();
  }

  /**
   * Loads every child as Node would have, and binds every name in Node's order: the first binding
   * of a name wins, as in `__exportStar`. Names found earlier are bound again to the same module.
   */
  complete(): void {
    if (this.#complete) return;
    this.#complete = true;
    const found = new Map<string, unknown>();
    for (const name of Object.keys(this.target)) {
      found.set(name, this.target[name]);
      delete this.target[name];
    }
    for (const name of this.#declared) this.target[name] = undefined;
    for (const child of this.#children) {
      if (child.kind === 'namespace') {
        this.target[child.name] = found.has(child.name)
          ? found.get(child.name)
          : namespaceOf(this.#require(child.request));
        continue;
      }
      const exports = this.#require(child.request) as Record<string, unknown>;
      for (const name in exports) {
        if (name !== 'default' && !Object.hasOwn(this.target, name)) bind(this.target, name, exports);
      }
    }
  }

  /**
   * The folder a request names, as a lazy barrel, or as the exports Node loaded for it (already
   * loaded, or not plainly a barrel); undefined when the request names a file.
   */
  #nestedBarrel(request: string): NestedBarrel | Record<string, unknown> | undefined {
    let nested = this.#nested.get(request);
    if (nested === undefined) {
      nested = this.#lookAt(request);
      this.#nested.set(request, nested);
    }
    return nested ?? undefined;
  }

  #lookAt(request: string): NestedBarrel | Record<string, unknown> | null {
    const path = resolve(dirname(this.#file), request);
    if (!this.#isFolder(path)) return null;
    const index = join(path, 'index.js');
    const cached = require.cache[index]?.exports as Record<string, unknown> | undefined;
    if (cached) return barrels.get(cached) ?? cached;
    return lazyModule(index) ?? (this.#require(request) as Record<string, unknown>);
  }

  /** Whether a request names a folder (its index.js), not a file: one directory read per barrel. */
  #isFolder(path: string): boolean {
    const dir = dirname(this.#file);
    if (dirname(path) !== dir) return !existsSync(`${path}.js`) && existsSync(join(path, 'index.js'));
    this.#entries ??= new Set(readdirSync(dir));
    const name = basename(path);
    return !this.#entries.has(`${name}.js`) && this.#entries.has(name);
  }
}

/** Lazy barrels by their proxies, so a nested barrel found in require.cache is recognised. */
const barrels = new WeakMap<object, NestedBarrel>();

function lazyModule(file: string): NestedBarrel | undefined {
  const parsed = parseBarrel(readFileSync(file, 'utf8'));
  if (!parsed) return undefined;
  const barrel = new LazyBarrel(file, parsed) as NestedBarrel;
  barrel.proxy = new Proxy(barrel.target, {
    get(target, key) {
      barrel.bindOrComplete(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      barrel.bindOrComplete(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      barrel.bindOrComplete(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      barrel.complete();
      return Reflect.ownKeys(target);
    },
  });
  barrels.set(barrel.proxy, barrel);
  const module = new Module(file);
  module.filename = file;
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
    dirname(file),
  );
  module.exports = barrel.proxy;
  module.loaded = true;
  require.cache[file] = module;
  return barrel;
}

/** `__createBinding`: a live getter, so a module still loading (a require cycle) is read later. */
function bind(target: Record<string, unknown>, name: string, from: Record<string, unknown>): void {
  Object.defineProperty(target, name, { enumerable: true, configurable: true, get: () => from[name] });
}

/** `__importStar`: a module marked `__esModule` as it is, any other as live bindings plus `default`. */
function namespaceOf(exports: unknown): unknown {
  if (exports && (exports as { __esModule?: boolean }).__esModule) return exports;
  const namespace: Record<string, unknown> = {};
  for (const name in exports as object) {
    if (name !== 'default') bind(namespace, name, exports as Record<string, unknown>);
  }
  namespace.default = exports;
  return namespace;
}

/**
 * Registers the given barrels of a package (paths relative to its root) as lazy modules. A barrel
 * already loaded, or one that is not plainly a barrel, is left to Node. Returns how many were
 * registered.
 */
export function registerLazyBarrels(root: string, barrelPaths: readonly string[]): number {
  let registered = 0;
  for (const path of barrelPaths) {
    const file = join(root, path);
    if (require.cache[file]) continue;
    if (lazyModule(file)) registered++;
  }
  return registered;
}
