import { mkdir } from 'node:fs/promises';
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
  const { PGlite } = await import('@electric-sql/pglite');
  const { btree_gist } = await import('@electric-sql/pglite/contrib/btree_gist');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ dataDir: opts.dataDir, extensions: { btree_gist } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  const addr = server.getServerConn();
  opts.logger.warn({ dataDir: opts.dataDir }, 'DATABASE_URL not set: running embedded PostgreSQL (PGlite)');
  return {
    url: `postgres://postgres@${addr}/postgres?sslmode=disable`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
