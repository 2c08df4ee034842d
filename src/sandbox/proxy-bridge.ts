/**
 * The bridge that runs INSIDE a sandbox whose network is an allow-list:
 *
 *   node proxy-bridge.js <unixSocketPath> <tcpPort> <readyFilePath>
 *
 * The sandbox has its own network namespace with nothing but loopback, and the egress proxy
 * listens outside it on a Unix socket that is bind-mounted in. Ordinary clients only know
 * HTTP_PROXY=http://host:port, so this listens on 127.0.0.1:<tcpPort> and relays every TCP
 * connection, byte for byte, to a fresh connection on the Unix socket. It makes no decisions:
 * the proxy on the other end does. Once listening it creates <readyFilePath> (empty), which is
 * how the launcher knows clients can connect.
 *
 * Importing this module starts the bridge, so nothing imports it: it only runs as a script.
 * It uses node builtins alone so it starts fast and needs nothing else mounted. It does not
 * watch its parent: the sandbox's pid namespace ends it with the agent.
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

function fail(message: string, exitCode: number): never {
  process.stderr.write(`proxy-bridge: ${message}\n`);
  process.exit(exitCode);
}

const USAGE = 'usage: proxy-bridge <unixSocketPath> <tcpPort> <readyFilePath>';
const args = process.argv.slice(2);
const [socketPath, portText, readyPath] = args;
if (args.length !== 3 || socketPath === undefined || portText === undefined) fail(USAGE, 2);
if (readyPath === undefined || socketPath === '' || readyPath === '') fail(USAGE, 2);
if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65_535) {
  fail(`the port must be a number from 1 to 65535, got ${JSON.stringify(portText)}`, 2);
}
const port = Number(portText);

/**
 * Each direction's end is passed on separately (half-close), as a direct connection would;
 * an error on either side, or either side closing completely, cuts both.
 */
function relay(client: Socket, upstream: Socket): void {
  client.setNoDelay(true);
  const cut = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', cut);
  upstream.on('error', cut);
  client.once('close', cut);
  upstream.once('close', () => {
    // After a clean end the pipe has already ended the client's side; let that flush.
    if (!client.writableEnded) client.destroy();
  });
  client.pipe(upstream);
  upstream.pipe(client);
}

const server = createServer({ allowHalfOpen: true }, (client) => {
  relay(client, connect({ path: socketPath, allowHalfOpen: true }));
});
server.on('error', (error) => fail(`cannot listen on 127.0.0.1:${port}: ${error.message}`, 1));
server.listen({ host: '127.0.0.1', port }, () => {
  try {
    writeFileSync(readyPath, '');
  } catch (error) {
    fail(`cannot write the ready file ${readyPath}: ${(error as Error).message}`, 1);
  }
});
