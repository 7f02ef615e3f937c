import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './logger';

export interface EmbeddedPostgres {
  url: string;
  close(): Promise<void>;
}

/**
 * PGlite under ./data, served over the Postgres wire protocol on loopback so the product runs the
 * same `pg` code path as in production. PGlite multiplexes one session: never hold a transaction
 * while waiting on another query.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  logger: Logger;
}): Promise<EmbeddedPostgres> {
  await mkdir(opts.dataDir, { recursive: true });
  // One process owns a PGlite data directory. A second one (`npm run admin` while the server runs)
  // reaches the owner's socket instead of opening the files a second time.
  const ownerFile = path.join(opts.dataDir, '..', 'embedded-pg.json');
  const owner = await liveOwner(ownerFile);
  if (owner) {
    opts.logger.info(
      { pid: owner.pid },
      'embedded PostgreSQL is served by another process; connecting to it',
    );
    return { url: owner.url, close: async () => undefined };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { btree_gist } = await import('@electric-sql/pglite/contrib/btree_gist');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ dataDir: opts.dataDir, extensions: { btree_gist } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  const addr = server.getServerConn();
  opts.logger.warn({ dataDir: opts.dataDir }, 'DATABASE_URL not set: running embedded PostgreSQL (PGlite)');
  const url = `postgres://postgres@${addr}/postgres?sslmode=disable`;
  await writeFile(ownerFile, JSON.stringify({ pid: process.pid, url }), { mode: 0o600 });
  return {
    url,
    async close() {
      await rm(ownerFile, { force: true });
      await server.stop();
      await db.close();
    },
  };
}

async function liveOwner(file: string): Promise<{ pid: number; url: string } | null> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as { pid: number; url: string };
    if (owner.pid === process.pid) return null;
    process.kill(owner.pid, 0); // throws when no such process: a stale file from a crash
    return owner;
  } catch {
    return null;
  }
}
