import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The node arguments that run the proxy bridge (src/sandbox/proxy-bridge.ts); the caller runs
 * `node ...proxyBridgeArgs() <unixSocketPath> <tcpPort> <readyFilePath>`. The compiled build
 * runs `dist/sandbox/proxy-bridge.js`. Under vitest/tsx this module is the `.ts` source, so
 * the bridge runs from source through tsx's loader, passed as an absolute URL because
 * `--import` resolves bare names from the cwd, which need not have node_modules.
 *
 * This module only names the script; it never imports it, because importing it starts it.
 */
export function proxyBridgeArgs(): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsxLoader = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return ['--import', tsxLoader, fileURLToPath(new URL('./proxy-bridge.ts', here))];
  }
  return [fileURLToPath(new URL('./proxy-bridge.js', here))];
}
