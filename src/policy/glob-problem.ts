import { pathMatcher } from './path-matcher.js';

/**
 * Why a path glob cannot be used, or null when it can. Applied to allow, deny and runtime
 * patterns alike: a deny pattern that can never match (absolute, `..`, `./`) is worse than an
 * error, because the author believes something is forbidden that is not.
 */
export function globProblem(pattern: string): { message: string; hint: string } | null {
  if (pattern.length === 0) {
    return {
      message: 'empty glob',
      hint: 'remove the empty entry or write a pattern such as src/**',
    };
  }
  if (pattern.includes('\0')) {
    return { message: 'glob contains a NUL byte', hint: 'remove the NUL byte from the pattern' };
  }
  if (pattern.trim() !== pattern) {
    return {
      message: `glob ${JSON.stringify(pattern)} has leading or trailing whitespace`,
      hint: 'remove the surrounding spaces; they would be matched literally',
    };
  }
  if (pattern.startsWith('/')) {
    return {
      message: `glob ${JSON.stringify(pattern)} is absolute`,
      hint: `patterns match repo-relative paths: write ${JSON.stringify(pattern.replace(/^\/+/, ''))}`,
    };
  }
  if (pattern.startsWith('!')) {
    return {
      message: `glob ${JSON.stringify(pattern)} is a negation`,
      hint: 'negated patterns are not supported: list what to forbid under paths.deny instead',
    };
  }
  const segments = pattern.split('/');
  if (segments.includes('..')) {
    return {
      message: `glob ${JSON.stringify(pattern)} contains a '..' segment`,
      hint: 'patterns cannot leave the repository; write a path relative to the repository root',
    };
  }
  if (segments.includes('.')) {
    return {
      message: `glob ${JSON.stringify(pattern)} contains a '.' segment`,
      hint: `paths are matched after normalisation, so './' never matches: write ${JSON.stringify(
        segments.filter((s) => s !== '.').join('/'),
      )}`,
    };
  }
  if (pattern.endsWith('/')) {
    return {
      message: `glob ${JSON.stringify(pattern)} ends with '/'`,
      hint: `patterns match files: write ${JSON.stringify(`${pattern}**`)} for everything under that directory`,
    };
  }
  if (segments.includes('')) {
    return {
      message: `glob ${JSON.stringify(pattern)} contains an empty segment ('//')`,
      hint: 'paths are matched after normalisation, so a doubled slash never matches: use a single /',
    };
  }
  try {
    // Compiling through the shared cache means a valid pattern is compiled once, here.
    pathMatcher(pattern);
  } catch (thrown) {
    return {
      message: `glob ${JSON.stringify(pattern)} does not compile: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
      hint: 'check brackets and braces; escape literal special characters with a backslash',
    };
  }
  return null;
}
