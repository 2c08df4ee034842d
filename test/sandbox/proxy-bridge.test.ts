import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/kernel/index.js';
import {
  type EgressDecision,
  type EgressProxy,
  startEgressProxy,
} from '../../src/sandbox/egress-proxy.js';
import { proxyBridgeArgs } from '../../src/sandbox/proxy-bridge-command.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { eventually } from './process-probe.js';

/** A loopback port nothing listens on right now, for the bridge to take. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.once('error', reject);
  });
}

describe('proxy bridge', () => {
  let dir: string;
  let proxy: EgressProxy | null;
  let bridge: ChildProcess | null;
  let decisions: EgressDecision[];
  let originPort: number;
  let closeOrigin: () => Promise<void>;

  beforeEach(async () => {
    dir = makeTempDir('aas-bridge-');
    proxy = null;
    bridge = null;
    decisions = [];
    const origin = createHttpServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end(`origin reached: ${request.method} ${request.url} host=${request.headers.host}`);
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    originPort = (origin.address() as AddressInfo).port;
    closeOrigin = () => {
      origin.closeAllConnections();
      return new Promise<void>((resolve) => origin.close(() => resolve()));
    };
  });

  afterEach(async () => {
    if (bridge !== null && bridge.exitCode === null && bridge.signalCode === null) {
      const exited = once(bridge, 'exit');
      bridge.kill('SIGKILL');
      await exited;
    }
    await proxy?.close();
    await closeOrigin();
    removeDir(dir);
  });

  /** Starts a real egress proxy admitting only the origin, then the bridge in front of it. */
  const startBridge = async (): Promise<number> => {
    const socketPath = join(dir, 'egress.sock');
    proxy = await startEgressProxy({
      socketPath,
      decide: (host, port) => host === '127.0.0.1' && port === originPort,
      onDecision: (decision) => decisions.push(decision),
      clock: systemClock,
      resolve: (host) => Promise.reject(new Error(`unexpected lookup of ${host}`)),
    });
    const port = await freePort();
    const ready = join(dir, 'bridge.ready');
    const child = spawn(process.execPath, [...proxyBridgeArgs(), socketPath, String(port), ready], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    bridge = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const isReady = await eventually(() => existsSync(ready) || child.exitCode !== null, 60_000);
    if (!isReady || !existsSync(ready)) {
      throw new Error(`the bridge did not become ready (exit ${child.exitCode}): ${stderr}`);
    }
    return port;
  };

  it('carries a plain HTTP proxy request from 127.0.0.1:<port> to an allowed origin', async () => {
    const bridgePort = await startBridge();
    const target = `127.0.0.1:${originPort}`;
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // What a client configured with HTTP_PROXY=http://127.0.0.1:<port> sends.
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port: bridgePort,
          path: `http://${target}/through/the/bridge`,
          headers: { host: target },
          agent: false,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      request.once('error', reject);
      request.end();
    });
    expect(reply).toEqual({
      status: 200,
      body: `origin reached: GET /through/the/bridge host=${target}`,
    });
    expect(decisions.map(({ kind, method, host, port }) => ({ kind, method, host, port }))).toEqual(
      [{ kind: 'allowed', method: 'GET', host: '127.0.0.1', port: originPort }],
    );
  });

  it('carries a CONNECT tunnel and a refusal through the bridge', async () => {
    const bridgePort = await startBridge();
    const tunnel = connect({ host: '127.0.0.1', port: bridgePort });
    await once(tunnel, 'connect');
    const text = readAll(tunnel);
    tunnel.write(
      `CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`,
    );
    tunnel.write(
      `GET /inside HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\nConnection: close\r\n\r\n`,
    );
    const received = await text;
    expect(received.startsWith('HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK')).toBe(
      true,
    );
    expect(received).toContain(`origin reached: GET /inside host=127.0.0.1:${originPort}`);

    const denied = connect({ host: '127.0.0.1', port: bridgePort });
    await once(denied, 'connect');
    const deniedText = readAll(denied);
    denied.write('CONNECT elsewhere.example:443 HTTP/1.1\r\nHost: elsewhere.example:443\r\n\r\n');
    const answer = await deniedText;
    expect(answer.startsWith('HTTP/1.1 403 Forbidden')).toBe(true);
    expect(answer).toContain('elsewhere.example:443');
    expect(decisions.map((decision) => decision.kind)).toEqual(['allowed', 'refused']);
  });

  it('exits with status 2 on bad arguments without listening', () => {
    const result = spawnSync(process.execPath, [...proxyBridgeArgs(), join(dir, 's'), 'http'], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: proxy-bridge');
  });
});
