import { lstat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { AasError } from '../kernel/index.js';

/**
 * The admin panel's static build, served at /panel/. Public on purpose: the files are the same
 * for everyone and hold no data; every API call the panel makes carries the bearer token the
 * user types in. The panel routes its views by hash, so the server only ever needs to send
 * index.html and the hashed files under assets/.
 */

/**
 * `dist/panel/` of this package, where the web build writes the panel. Found from this module
 * (`dist/api/` when compiled, `src/api/` under tsx), so the server finds it wherever it runs.
 */
export function defaultPanelDir(): string {
  return fileURLToPath(new URL('../../dist/panel/', import.meta.url));
}

/**
 * The panel loads only its own scripts, styles and fonts, talks only to this origin, and may
 * not be framed (clickjacking) or leak its URL (which may carry a run id) to anyone.
 */
export const PANEL_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'none'";

/** Files under assets/ carry a content hash in their names: a new build has new names. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';
/** Everything else (index.html above all) names the current build's assets: always revalidated. */
const PAGE_CACHE = 'no-cache';

/** A segment of a file name the build writes: no dotfiles, no `..`, nothing to decode. */
const PLAIN_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

function plainFileName(path: string): string | null {
  return path.split('/').every((segment) => PLAIN_SEGMENT.test(segment)) ? path : null;
}

/** A regular file (not a directory, not a symlink that could point out of the build). */
async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

export async function registerPanelRoutes(app: FastifyInstance, panelDir: string): Promise<void> {
  const root = resolve(panelDir);
  await app.register(async (panel) => {
    // Its own routes are not used: the handler below decides what each path serves.
    await panel.register(fastifyStatic, {
      root,
      serve: false,
      index: false,
      dotfiles: 'deny',
      cacheControl: false,
      // A panel that is not built is a normal state of a source checkout, reported per request.
      suppressWarning: true,
    });
    panel.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', PANEL_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });

    // Relative, so that a reverse proxy serving AAS under a path prefix keeps it.
    panel.get('/panel', { schema: { hide: true } }, async (_request, reply) =>
      reply.redirect('panel/', 302),
    );

    panel.get<{ Params: { '*': string } }>(
      '/panel/*',
      { schema: { hide: true } },
      async (request, reply) => {
        if (!(await isRegularFile(join(root, 'index.html')))) {
          throw new AasError('NOT_FOUND', 'the admin panel is not built', {
            hint: 'run `npm run build`, which writes dist/panel/; no restart is needed',
          });
        }
        const path = request.params['*'];
        const name = plainFileName(path);
        if (name !== null && (await isRegularFile(join(root, name)))) {
          reply.header('cache-control', name.startsWith('assets/') ? ASSET_CACHE : PAGE_CACHE);
          return reply.sendFile(name);
        }
        if (path.startsWith('assets/')) {
          // Never index.html for a script or a stylesheet: the browser would try to run it.
          throw new AasError('NOT_FOUND', `the panel has no asset ${path.slice(0, 200)}`, {
            hint: 'the panel was rebuilt since this page was loaded: reload it',
          });
        }
        // Any other path is a view of the panel (the panel itself routes by hash).
        reply.header('cache-control', PAGE_CACHE);
        return reply.sendFile('index.html');
      },
    );
  });
}
