import { AasError } from '../../kernel/index.js';
import type { CliIo } from '../cli-io.js';
import { configFrom, type GlobalOptions } from '../open-runtime.js';
import { normaliseServerUrl, ServerClient } from './server-client.js';

/**
 * The server this command talks to (`--server` or AAS_SERVER, with `--token` or AAS_TOKEN), or
 * null when none is configured and the command works on the local store as always.
 */
export function serverClientFor(io: CliIo, globals: GlobalOptions): ServerClient | null {
  const { serverUrl, token } = configFrom(io, globals).client;
  if (serverUrl === undefined) return null;
  if (token === undefined) {
    throw new AasError(
      'UNAUTHENTICATED',
      `no token for the AAS server at ${normaliseServerUrl(serverUrl)}`,
      {
        field: 'AAS_TOKEN',
        hint: 'export AAS_TOKEN=<token> (or pass --token); an admin creates one with `aas token create`',
      },
    );
  }
  return new ServerClient({ serverUrl, token, userAgent: 'aas-cli' });
}
