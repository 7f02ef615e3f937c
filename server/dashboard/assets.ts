/**
 * The dashboard's static files (script, stylesheet, icon), read once at start and served from memory with a content hash
 * in their URL (so they can be cached for a long time and still change with each release).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Assets } from './views/layout';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Next to this file when run from source; under <root>/server/dashboard when run from dist/. */
function staticDir(): string {
  const candidates = [
    path.join(__dirname, 'static'),
    path.resolve(__dirname, '..', '..', '..', 'server', 'dashboard', 'static'),
  ];
  const found = candidates.find((d) => existsSync(path.join(d, 'app.js')));
  if (!found) throw new Error('dashboard static files not found');
  return found;
}

const TYPES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

export function registerAssets(app: FastifyInstance): Assets {
  const dir = staticDir();
  const files = new Map<string, Asset>();
  for (const [name, type] of Object.entries(TYPES)) {
    const body = readFileSync(path.join(dir, name));
    files.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  app.get<{ Params: { file: string } }>('/dashboard/static/:file', async (req, reply) => {
    const asset = files.get(req.params.file);
    if (!asset) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No such file' } });
    reply.header('Cache-Control', 'public, max-age=31536000, immutable').header('ETag', asset.etag);
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });
  const url = (name: string) => `/dashboard/static/${name}?v=${files.get(name)?.etag.slice(1, 9) ?? '0'}`;
  return { css: url('app.css'), js: url('app.js'), icon: url('favicon.svg') };
}
