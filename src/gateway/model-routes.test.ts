import { describe, expect, it } from 'vitest';
import { googleQuery, upstreamRequestHeaders, upstreamTarget } from './forward-headers.js';
import { guessProvider, routeFor } from './model-routes.js';
import { presentsPlaceholder } from './placeholder-key.js';
import { providerError } from './provider-error.js';

const PLACEHOLDER = 'aas-run-placeholder-0123456789abcdef';

describe('routeFor', () => {
  it('routes the fixed Anthropic and OpenAI paths, model and stream left to the body', () => {
    expect(routeFor('POST', '/v1/messages?beta=true')).toEqual({
      provider: 'anthropic',
      api: 'messages',
      model: null,
      stream: null,
    });
    expect(routeFor('POST', '/v1/chat/completions')?.api).toBe('chat.completions');
    expect(routeFor('GET', '/v1/messages')).toBeNull();
  });

  it('routes Gemini methods with the model and the stream taken from the path', () => {
    expect(routeFor('POST', '/v1beta/models/gemini-2.5-pro:generateContent')).toEqual({
      provider: 'google',
      api: 'generate_content',
      model: 'gemini-2.5-pro',
      stream: false,
    });
    expect(
      routeFor('POST', '/v1/models/gemini-3-flash-preview:streamGenerateContent?alt=sse'),
    ).toEqual({
      provider: 'google',
      api: 'generate_content',
      model: 'gemini-3-flash-preview',
      stream: true,
    });
    expect(routeFor('POST', '/v1alpha/models/gemini_x.1:countTokens')).toEqual({
      provider: 'google',
      api: 'count_tokens',
      model: 'gemini_x.1',
      stream: false,
    });
  });

  it('refuses any Gemini path whose model is not one plain segment, or whose method is unknown', () => {
    for (const path of [
      '/v1beta/models/..:generateContent',
      '/v1beta/models/.:generateContent',
      '/v1beta/models/../gemini-2.5-pro:generateContent',
      '/v1beta/models/a/b:generateContent',
      '/v1beta/models/gemini%2F..:generateContent',
      '/v1beta/models/:generateContent',
      '/v1beta/models/gemini-2.5-pro:embedContent',
      '/v1beta/models/gemini-2.5-pro:generateContent/x',
      '/v1beta/models/gemini-2.5-pro',
      '/v2/models/gemini-2.5-pro:generateContent',
      '/v1beta/tunedModels/x:generateContent',
      '//v1beta/models/gemini-2.5-pro:generateContent',
    ]) {
      expect(routeFor('POST', path), path).toBeNull();
    }
    expect(routeFor('GET', '/v1beta/models/gemini-2.5-pro:generateContent')).toBeNull();
  });
});

describe('guessProvider', () => {
  it('answers unknown routes in the shape of the client that probably sent them', () => {
    expect(guessProvider('/v1/messages/batches', [])).toBe('anthropic');
    expect(guessProvider('/v1beta/models', [])).toBe('google');
    expect(guessProvider('/v1alpha/cachedContents', [])).toBe('google');
    expect(guessProvider('/v1/models/gemini-2.5-pro:embedContent', [])).toBe('google');
    expect(guessProvider('/v1/models/../x:generateContent', [])).toBe('google');
    expect(guessProvider('/v1/files', ['X-Goog-Api-Key'])).toBe('google');
    expect(guessProvider('/v1/complete', ['x-api-key'])).toBe('anthropic');
    expect(guessProvider('/v1/models', ['authorization'])).toBe('openai');
    expect(guessProvider('/v1/models/gpt-5', [])).toBe('openai');
  });
});

describe('Google keys', () => {
  const present = (rawHeaders: string[], target = '/v1beta/models/m:generateContent') =>
    presentsPlaceholder({ rawHeaders, target }, 'google', PLACEHOLDER);

  it('accepts the placeholder in x-goog-api-key, ?key=, ?access_token= or a bearer token', () => {
    expect(present(['x-goog-api-key', PLACEHOLDER])).toBe(true);
    expect(present(['X-Goog-Api-Key', ` ${PLACEHOLDER} `])).toBe(true);
    expect(present([], `/v1beta/models/m:generateContent?alt=sse&key=${PLACEHOLDER}`)).toBe(true);
    expect(present([], `/v1beta/models/m:generateContent?%6Bey=${PLACEHOLDER}`)).toBe(true);
    expect(present([], `/v1beta/models/m:generateContent?access_token=${PLACEHOLDER}`)).toBe(true);
    expect(present(['authorization', `Bearer ${PLACEHOLDER}`])).toBe(true);
    expect(
      present(
        ['x-goog-api-key', PLACEHOLDER],
        `/v1beta/models/m:generateContent?key=${PLACEHOLDER}`,
      ),
    ).toBe(true);
  });

  it('refuses no key, a wrong key, or a right key beside a wrong one', () => {
    expect(present([])).toBe(false);
    expect(present(['x-goog-api-key', ''])).toBe(false);
    expect(present(['x-goog-api-key', 'AIza-the-real-one'])).toBe(false);
    // Anthropic's header is not where a Google client puts its key.
    expect(present(['x-api-key', PLACEHOLDER])).toBe(false);
    expect(present([], '/v1beta/models/m:generateContent?key=')).toBe(false);
    expect(present([], '/v1beta/models/m:generateContent?key=%E0%A4%A')).toBe(false);
    expect(
      present(['x-goog-api-key', PLACEHOLDER], '/v1beta/models/m:generateContent?key=wrong'),
    ).toBe(false);
    expect(
      present(
        [],
        `/v1beta/models/m:generateContent?key=${PLACEHOLDER}&access_token=ya29.someone-elses`,
      ),
    ).toBe(false);
    expect(present(['x-goog-api-key', PLACEHOLDER, 'authorization', 'Bearer other'])).toBe(false);
    // A key in the query counts only for Google.
    expect(
      presentsPlaceholder(
        { rawHeaders: [], target: `/v1/messages?key=${PLACEHOLDER}` },
        'anthropic',
        PLACEHOLDER,
      ),
    ).toBe(false);
  });

  it('sends the real key in x-goog-api-key only, and no credential parameter upstream', () => {
    const headers = upstreamRequestHeaders(
      [
        'x-goog-api-key',
        PLACEHOLDER,
        'authorization',
        `Bearer ${PLACEHOLDER}`,
        'x-goog-api-client',
        'google-genai-sdk/1.30.0 gl-node/v22',
      ],
      'google',
      { apiKey: 'AIza-real', placeholder: PLACEHOLDER, bodyBytes: 2 },
    );
    expect(headers['x-goog-api-key']).toBe('AIza-real');
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-goog-api-client']).toEqual(['google-genai-sdk/1.30.0 gl-node/v22']);

    const path = '/v1beta/models/m:streamGenerateContent';
    expect(upstreamTarget(`${path}?alt=sse&key=${PLACEHOLDER}`, 'google', PLACEHOLDER)).toBe(
      `${path}?alt=sse`,
    );
    expect(upstreamTarget(`${path}?key=${PLACEHOLDER}`, 'google', PLACEHOLDER)).toBe(path);
    expect(
      upstreamTarget(`${path}?%6Bey=x&access_token=y&alt=sse&$fields=a%2Cb`, 'google', PLACEHOLDER),
    ).toBe(`${path}?alt=sse`);
    expect(upstreamTarget(path, 'google', PLACEHOLDER)).toBe(path);
    // Other providers keep their query as sent, except a parameter carrying the placeholder.
    expect(upstreamTarget('/v1/messages?beta=true&key=k', 'anthropic', PLACEHOLDER)).toBe(
      '/v1/messages?beta=true&key=k',
    );
    expect(
      upstreamTarget(
        `/v1/responses?x=${encodeURIComponent(PLACEHOLDER)}&y=1`,
        'openai',
        PLACEHOLDER,
      ),
    ).toBe('/v1/responses?y=1');
  });
});

describe('Google system parameters', () => {
  const path = '/v1beta/models/gemini-2.5-pro:generateContent';

  it('forwards only alt=sse or alt=json, and no field mask or other parameter', () => {
    const cases: [query: string, forwarded: string][] = [
      ['?alt=sse', '?alt=sse'],
      ['?alt=json', '?alt=json'],
      ['?%24alt=sse', '?alt=sse'],
      ['?alt=sse&alt=sse', '?alt=sse'],
      // A field mask can leave usageMetadata out of the answer: the call would count $0.
      ['?fields=candidates', ''],
      ['?$fields=candidates', ''],
      ['?%24fields=candidates&alt=sse', '?alt=sse'],
      ['?alt=sse&prettyPrint=false&quotaUser=x&$ct=application%2Fx-protobuf', '?alt=sse'],
      ['?$key=AIza-someone-elses&$.xgafv=1&$outputDefaults=true&callback=f', ''],
      ['?Alt=proto', ''],
      ['?', ''],
    ];
    for (const [query, forwarded] of cases) {
      expect(googleQuery(`${path}${query}`).kind, query).toBe('ok');
      expect(upstreamTarget(`${path}${query}`, 'google', PLACEHOLDER), query).toBe(
        `${path}${forwarded}`,
      );
    }
  });

  it('refuses an alt the gateway could not read the usage from, or alts that disagree', () => {
    for (const query of [
      '?alt=proto',
      '?$alt=media',
      '?alt=',
      '?alt',
      '?alt=SSE',
      '?alt=sse&alt=json',
    ]) {
      const answer = googleQuery(`${path}${query}`);
      expect(answer.kind, query).toBe('bad');
      expect(answer.kind === 'bad' && answer.message, query).toMatch(/^AAS: .*alt=sse or alt=json/);
    }
  });

  it('drops the headers that mask the answer or change the method, for every provider', () => {
    for (const provider of ['google', 'openai', 'anthropic'] as const) {
      const headers = upstreamRequestHeaders(
        [
          'X-Goog-FieldMask',
          'candidates',
          'X-HTTP-Method-Override',
          'GET',
          'X-Goog-Api-Version',
          'v1alpha',
          'X-Goog-User-Project',
          'my-project',
          'x-goog-api-client',
          'google-genai-sdk/1.30.0 gl-node/v22',
        ],
        provider,
        { apiKey: 'real', placeholder: PLACEHOLDER, bodyBytes: 2 },
      );
      expect(headers['x-goog-fieldmask'], provider).toBeUndefined();
      expect(headers['x-http-method-override'], provider).toBeUndefined();
      expect(headers['x-goog-api-version'], provider).toBeUndefined();
      expect(headers['x-goog-user-project'], provider).toEqual(['my-project']);
      expect(headers['x-goog-api-client'], provider).toEqual([
        'google-genai-sdk/1.30.0 gl-node/v22',
      ]);
    }
  });

  it('takes $key as a key parameter, which must be the placeholder too', () => {
    const present = (target: string) =>
      presentsPlaceholder(
        { rawHeaders: ['x-goog-api-key', PLACEHOLDER], target },
        'google',
        PLACEHOLDER,
      );
    expect(present(`${path}?$key=${PLACEHOLDER}`)).toBe(true);
    expect(present(`${path}?%24key=AIza-someone-elses`)).toBe(false);
  });
});

describe('providerError for Google', () => {
  it('answers in the Google error shape, a spent budget as a 400 that is not retried', () => {
    const answer = providerError('google', 'budget', 'AAS: spent');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: 400, message: 'AAS: spent', status: 'INVALID_ARGUMENT' },
    });
    expect(providerError('google', 'auth', 'm')).toMatchObject({ status: 401 });
    expect(JSON.parse(providerError('google', 'unknown_route', 'm').body).error.status).toBe(
      'NOT_FOUND',
    );
    expect(JSON.parse(providerError('google', 'no_price', 'm').body).error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
    });
  });
});
