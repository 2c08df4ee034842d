import { describe, expect, it } from 'vitest';
import { parseUpstream, upstreamPath } from './model-upstream.js';

const upstream = (baseUrl: string) => parseUpstream('openai', { baseUrl, apiKey: 'sk-test' });

describe('upstreamPath', () => {
  it('puts the call after the base URL path', () => {
    expect(upstreamPath(upstream('https://api.openai.com'), '/v1/chat/completions')).toBe(
      '/v1/chat/completions',
    );
    expect(upstreamPath(upstream('https://proxy.example/openai/'), '/v1/responses')).toBe(
      '/openai/v1/responses',
    );
  });

  it('says a version segment once when the base URL ends with it, as OpenAI SDKs take it', () => {
    expect(upstreamPath(upstream('http://127.0.0.1:8080/v1'), '/v1/chat/completions')).toBe(
      '/v1/chat/completions',
    );
    expect(upstreamPath(upstream('https://proxy.example/g/v1beta'), '/v1beta/models/x')).toBe(
      '/g/v1beta/models/x',
    );
    // Another version, or a segment that only starts like one, is kept as written.
    expect(upstreamPath(upstream('http://proxy/v2'), '/v1/chat/completions')).toBe(
      '/v2/v1/chat/completions',
    );
    expect(upstreamPath(upstream('http://proxy/v1'), '/v1x/y')).toBe('/v1/v1x/y');
  });
});
