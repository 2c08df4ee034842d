/**
 * Writes the server's OpenAPI document to web/openapi.json and the panel's TypeScript types
 * generated from it to web/src/api-schema.d.ts. The panel is typed against exactly what the
 * server serves: `npm run openapi` after changing a route; test/api/panel-openapi.test.ts fails
 * when the committed document is out of date.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { startServer } from '../src/app/index.js';
import { parseConfig } from '../src/config/index.js';
import { silentLogger } from '../src/kernel/index.js';

const root = resolve(import.meta.dirname, '..');
const home = mkdtempSync(join(tmpdir(), 'aas-openapi-'));
try {
  const server = await startServer(
    parseConfig({ env: { AAS_HOME: home, AAS_WORKERS: '0', AAS_PORT: '0' }, cwd: home }),
    { hostEnv: {}, nodePath: process.execPath, log: silentLogger },
  );
  try {
    const document = await (await fetch(`${server.url}/openapi.json`)).json();
    const text = `${JSON.stringify(document, null, 2)}\n`;
    writeFileSync(join(root, 'web', 'openapi.json'), text);
    const types = astToString(await openapiTS(JSON.parse(text)));
    writeFileSync(
      join(root, 'web', 'src', 'api-schema.d.ts'),
      `// Generated from web/openapi.json by \`npm run openapi\`; do not edit.\n${types}`,
    );
  } finally {
    await server.close();
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
