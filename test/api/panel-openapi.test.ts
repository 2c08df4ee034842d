import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/kernel/index.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * The panel is typed against web/openapi.json (web/src/api-schema.d.ts is generated from it).
 * When a route changes, this fails until `npm run openapi` regenerates both, so the panel can
 * never compile against an API the server no longer serves.
 */
let server: RunningServer;
let home: string;

beforeAll(async () => {
  home = makeTempDir('aas-openapi-');
  server = await startServer(
    parseConfig({ env: { AAS_HOME: home, AAS_WORKERS: '0', AAS_PORT: '0' }, cwd: home }),
    { hostEnv: {}, nodePath: process.execPath, log: silentLogger },
  );
});

afterAll(async () => {
  await server?.close();
  removeDir(home);
});

describe('the panel’s copy of the OpenAPI document', () => {
  it('is the document the server serves (run `npm run openapi` after changing a route)', async () => {
    const served = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    const committed = JSON.parse(readFileSync(join(REPO_ROOT, 'web', 'openapi.json'), 'utf8'));
    expect(committed).toEqual(served);
    const types = readFileSync(join(REPO_ROOT, 'web', 'src', 'api-schema.d.ts'), 'utf8');
    for (const path of Object.keys(served.paths)) {
      expect(types, `${path} missing from api-schema.d.ts`).toContain(`"${path}"`);
    }
  });
});
