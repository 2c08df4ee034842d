import type { PriceTable } from './price-table.js';

/**
 * List prices in USD per million tokens, as the providers publish them for their current
 * model families; `AAS_MODEL_PRICES` overrides or extends any entry. They only have to be
 * right enough for a budget: the gateway refuses a model with no price at all when a run has a
 * cost limit, rather than guessing.
 */
export const DEFAULT_PRICES: PriceTable = {
  // Family patterns: a newer model of a family (Claude Code defaults to the newest) is priced
  // like the family's current models until the operator prices it exactly.
  'claude-opus-*': { inputPerMTokUsd: 15, outputPerMTokUsd: 75, cachedInputPerMTokUsd: 1.5 },
  'claude-sonnet-*': { inputPerMTokUsd: 3, outputPerMTokUsd: 15, cachedInputPerMTokUsd: 0.3 },
  'claude-haiku-*': { inputPerMTokUsd: 1, outputPerMTokUsd: 5, cachedInputPerMTokUsd: 0.1 },
  'claude-3-7-sonnet*': { inputPerMTokUsd: 3, outputPerMTokUsd: 15, cachedInputPerMTokUsd: 0.3 },
  'claude-3-5-haiku*': { inputPerMTokUsd: 0.8, outputPerMTokUsd: 4, cachedInputPerMTokUsd: 0.08 },
  'gpt-5*': { inputPerMTokUsd: 1.25, outputPerMTokUsd: 10, cachedInputPerMTokUsd: 0.125 },
  'gpt-5-mini*': { inputPerMTokUsd: 0.25, outputPerMTokUsd: 2, cachedInputPerMTokUsd: 0.025 },
  'gpt-5-nano*': { inputPerMTokUsd: 0.05, outputPerMTokUsd: 0.4, cachedInputPerMTokUsd: 0.005 },
  'gpt-4.1*': { inputPerMTokUsd: 2, outputPerMTokUsd: 8, cachedInputPerMTokUsd: 0.5 },
  'gpt-4.1-mini*': { inputPerMTokUsd: 0.4, outputPerMTokUsd: 1.6, cachedInputPerMTokUsd: 0.1 },
  'gpt-4o*': { inputPerMTokUsd: 2.5, outputPerMTokUsd: 10, cachedInputPerMTokUsd: 1.25 },
  'o3*': { inputPerMTokUsd: 2, outputPerMTokUsd: 8, cachedInputPerMTokUsd: 0.5 },
  'o4-mini*': { inputPerMTokUsd: 1.1, outputPerMTokUsd: 4.4, cachedInputPerMTokUsd: 0.275 },
  // Gemini API, paid tier, text input. The model comes from the request path
  // (`/v1beta/models/gemini-2.5-pro:generateContent`). Pro models cost more for prompts over
  // 200k tokens (2.5 Pro: 2.50 / 0.25 / 15; 3 Pro: 4 / 0.40 / 18); these are the prices below it,
  // so a call with a longer prompt is counted at as little as half of what it costs.
  // Cached input is the context-caching price, a tenth of the input price.
  'gemini-2.5-pro*': { inputPerMTokUsd: 1.25, outputPerMTokUsd: 10, cachedInputPerMTokUsd: 0.125 },
  'gemini-2.5-flash*': { inputPerMTokUsd: 0.3, outputPerMTokUsd: 2.5, cachedInputPerMTokUsd: 0.03 },
  'gemini-2.5-flash-lite*': {
    inputPerMTokUsd: 0.1,
    outputPerMTokUsd: 0.4,
    cachedInputPerMTokUsd: 0.01,
  },
  'gemini-3-pro*': { inputPerMTokUsd: 2, outputPerMTokUsd: 12, cachedInputPerMTokUsd: 0.2 },
  'gemini-3.1-pro*': { inputPerMTokUsd: 2, outputPerMTokUsd: 12, cachedInputPerMTokUsd: 0.2 },
  'gemini-3-flash*': { inputPerMTokUsd: 0.5, outputPerMTokUsd: 3, cachedInputPerMTokUsd: 0.05 },
  'gemini-3.1-flash-lite*': {
    inputPerMTokUsd: 0.25,
    outputPerMTokUsd: 1.5,
    cachedInputPerMTokUsd: 0.025,
  },
  // Image and speech models share a family's prefix but generate images or audio, priced far
  // above text; these longer patterns win over the family's. Usage does not split the output by
  // what it was, so all of it is priced as the image or audio it mostly is, and cached input
  // (which these models do not offer) at the input price.
  // gemini-2.5-flash-image (and -preview): $0.039 an image of 1290 tokens.
  'gemini-2.5-flash-image*': { inputPerMTokUsd: 0.3, outputPerMTokUsd: 30 },
  // gemini-3-pro-image-preview: $0.134 a 1K or 2K image of 1120 tokens (text output is $12).
  'gemini-3-pro-image*': { inputPerMTokUsd: 2, outputPerMTokUsd: 120 },
  // Text in, audio out.
  'gemini-2.5-flash-preview-tts*': { inputPerMTokUsd: 0.5, outputPerMTokUsd: 10 },
  'gemini-2.5-flash-tts*': { inputPerMTokUsd: 0.5, outputPerMTokUsd: 10 },
  'gemini-2.5-pro-preview-tts*': { inputPerMTokUsd: 1, outputPerMTokUsd: 20 },
  'gemini-2.5-pro-tts*': { inputPerMTokUsd: 1, outputPerMTokUsd: 20 },
  // Native audio (the Live API's models), priced for audio in and out.
  'gemini-2.5-flash-native-audio*': { inputPerMTokUsd: 3, outputPerMTokUsd: 12 },
};
