/**
 * Model gateway overhead: the same streamed answer (about 20 server-sent events, as a scripted
 * Anthropic upstream sends them) fetched directly from the upstream and through the gateway over
 * loopback TCP, in alternating order, one call at a time. Added latency = gateway − direct for
 * each pair of calls, so drift in the machine's speed cancels out.
 */
import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ModelCallRecord,
  newPlaceholderKey,
  startModelGateway,
} from '../src/gateway/index.js';
import { systemClock } from '../src/kernel/index.js';
import type { ResultRow, ResultTable } from './report.js';
import { percentile } from './stats.js';

export interface GatewayBenchOptions {
  readonly warmups: number;
  readonly iterations: number;
  readonly progress: (line: string) => void;
}

const MODEL = 'claude-sonnet-4-5';
const REAL_KEY = 'sk-ant-bench-real-key-0000000000000000';
const DELTAS = 15;

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** message_start, content_block_start, 15 deltas, content_block_stop, message_delta, message_stop. */
function streamEvents(): string[] {
  return [
    sse('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_bench',
        type: 'message',
        role: 'assistant',
        model: MODEL,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 1200, cache_read_input_tokens: 800, output_tokens: 1 },
      },
    }),
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    ...Array.from({ length: DELTAS }, (_, index) =>
      sse('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: `token ${index} of a streamed answer, ` },
      }),
    ),
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 60 },
    }),
    sse('message_stop', { type: 'message_stop' }),
  ];
}

/** Writes each event as its own chunk, yielding to the event loop between them. */
async function startUpstream(): Promise<Server> {
  const events = streamEvents();
  const server = createServer({ noDelay: true }, (request, response) => {
    request.resume();
    request.once('end', async () => {
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      response.flushHeaders();
      for (const event of events) {
        response.write(event);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      response.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** Milliseconds from sending the request to the answer's last byte; the text for checking. */
function timeToLastByte(
  port: number,
  agent: Agent,
  key: string,
  body: string,
): Promise<{ readonly ms: number; readonly text: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      agent,
      method: 'POST',
      path: '/v1/messages',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-api-key': key,
        'anthropic-version': '2023-06-01',
      },
    });
    request.on('socket', (socket) => socket.setNoDelay(true));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => {
        const ms = performance.now() - started;
        if (response.statusCode !== 200) {
          reject(new Error(`status ${response.statusCode}: ${Buffer.concat(chunks)}`));
          return;
        }
        resolve({ ms, text: Buffer.concat(chunks).toString('utf8') });
      });
      response.once('error', reject);
    });
    request.once('error', reject);
    request.end(body);
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

export async function gatewayBench(options: GatewayBenchOptions): Promise<ResultTable[]> {
  const upstream = await startUpstream();
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const placeholder = newPlaceholderKey();
  const records: ModelCallRecord[] = [];
  const gateway = await startModelGateway({
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { anthropic: { baseUrl: `http://127.0.0.1:${upstreamPort}`, apiKey: REAL_KEY } },
    placeholderKey: placeholder,
    prices: { [MODEL]: { inputPerMTokUsd: 3, outputPerMTokUsd: 15, cachedInputPerMTokUsd: 0.3 } },
    // A budget that is never reached, so every call takes the checked (priced) path.
    budget: { maxCostUsd: 1_000_000 },
    onCall: (record) => records.push(record),
    onBudgetExceeded: () => {},
    clock: systemClock,
  });
  const directAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const gatewayAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({
    model: MODEL,
    max_tokens: 1024,
    stream: true,
    messages: [{ role: 'user', content: 'Stream me twenty events.' }],
  });
  const expected = streamEvents().join('');

  const direct: number[] = [];
  const through: number[] = [];
  const added: number[] = [];
  try {
    options.progress(
      `gateway: ${options.warmups} warm-up + ${options.iterations} measured pairs of streamed calls`,
    );
    const total = options.warmups + options.iterations;
    for (let i = 0; i < total; i += 1) {
      const viaDirect = () => timeToLastByte(upstreamPort, directAgent, REAL_KEY, body);
      const viaGateway = () => timeToLastByte(portOf(gateway.url), gatewayAgent, placeholder, body);
      // Alternate which goes first, so neither always runs on a warmer loop.
      let d: { ms: number; text: string };
      let g: { ms: number; text: string };
      if (i % 2 === 0) {
        d = await viaDirect();
        g = await viaGateway();
      } else {
        g = await viaGateway();
        d = await viaDirect();
      }
      if (d.text !== expected || g.text !== expected) {
        throw new Error('gateway bench: an answer differs from the upstream stream');
      }
      if (i < options.warmups) continue;
      direct.push(d.ms);
      through.push(g.ms);
      added.push(g.ms - d.ms);
    }
  } finally {
    directAgent.destroy();
    gatewayAgent.destroy();
    await gateway.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }

  const counted = records.filter((record) => record.outputTokens === 60 && record.costUsd > 0);
  if (
    counted.length !== records.length ||
    records.length !== options.warmups + options.iterations
  ) {
    throw new Error(`gateway bench: ${counted.length} of ${records.length} calls were costed`);
  }

  const p99 = (samples: readonly number[]) => percentile(samples, 99);
  const rows: ResultRow[] = [
    { metric: 'direct: time to last byte', unit: 'ms', samples: direct },
    { metric: 'through the gateway: time to last byte', unit: 'ms', samples: through },
    {
      metric: 'added latency median (gateway − direct)',
      unit: 'ms',
      samples: added,
      target: { op: '<=', value: 2 },
    },
    { metric: 'direct: p99', unit: 'ms', samples: [p99(direct)] },
    { metric: 'through the gateway: p99', unit: 'ms', samples: [p99(through)] },
    { metric: 'added latency: p99', unit: 'ms', samples: [p99(added)] },
  ];
  return [
    {
      title: 'Model gateway overhead per streamed call (loopback TCP)',
      rows,
      notes: [
        `${options.iterations} sequential pairs after ${options.warmups} warm-ups; each answer is ${DELTAS + 5} SSE events written as separate chunks`,
        'upstream, gateway and client share one process and event loop; kept-alive connections on both paths',
        'through the gateway: placeholder check, budget and price check, real-key swap, pass-through with usage parsing and key redaction',
        'p99 rows hold one value each: the 99th percentile of the samples above them',
      ],
    },
  ];
}
