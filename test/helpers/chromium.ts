import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { describe } from 'vitest';

/** Debian's Chromium: browsers are never downloaded. */
export const CHROMIUM = '/usr/bin/chromium';

export const haveChromium = existsSync(CHROMIUM);

/**
 * `describe` when Chromium is installed, or under CI (which installs it, so its absence fails);
 * otherwise `describe.skip`, with a warning naming `what` was skipped and how to get it.
 */
export function describeInBrowser(what: string): typeof describe | typeof describe.skip {
  if (haveChromium || process.env.CI) return describe;
  console.warn(`${what} skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
  return describe.skip;
}

/** Headless, with the flags these machines need (no sandbox as root, no GPU, no chatter). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
