import { readFile, stat } from 'node:fs/promises';
import { AasError, normaliseError } from '../kernel/index.js';

const ENV_NAME = 'AAS_GIT_CREDENTIALS';
const LINE_EXAMPLE = 'https://<user>:<token>@github.com/<owner>/<repo>.git';

/**
 * Checks the credentials file this host's fetches of http(s) repository URLs may use
 * (`AAS_GIT_CREDENTIALS`, git's credential-store format: one URL with user and password per
 * line). It holds secrets, so it must be readable by its owner only; each line must name one
 * repository (a path after the host), since fetches look credentials up by the repository's
 * whole URL: an operator lists the private repositories jobs may name, not a host's every
 * repository. Errors name the file and line, never a secret.
 */
export async function checkGitCredentialsFile(path: string): Promise<void> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if ((info.mode & 0o077) !== 0) {
      throw new AasError(
        'CONFIG_INVALID',
        `${path} holds secrets but other users may read or change it (mode ${(info.mode & 0o777).toString(8)})`,
        { file: path, field: ENV_NAME, hint: `chmod 600 ${path}` },
      );
    }
    text = await readFile(path, 'utf8');
  } catch (thrown) {
    if (thrown instanceof AasError) throw thrown;
    throw new AasError(
      'CONFIG_INVALID',
      `cannot read the git credentials file ${path}: ${normaliseError(thrown).message}`,
      {
        file: path,
        field: ENV_NAME,
        hint: `point ${ENV_NAME} at a file of lines such as ${LINE_EXAMPLE}`,
      },
    );
  }
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const problem = lineProblem(line);
    if (problem !== null) {
      throw new AasError('CONFIG_INVALID', `line ${index + 1} of ${path} ${problem}`, {
        file: path,
        field: ENV_NAME,
        hint: `each line is one repository's URL with its credentials: ${LINE_EXAMPLE}`,
      });
    }
  }
}

/** What is wrong with one line, in words that never repeat the line (it holds a secret). */
function lineProblem(line: string): string | null {
  let url: URL;
  try {
    url = new URL(line);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'is not an http(s) URL';
  if (url.username === '' || url.password === '') return 'has no user and password (or token)';
  if (url.pathname === '/' || url.pathname === '') {
    return 'names a host but no repository: credentials are looked up by the repository URL';
  }
  if (url.search !== '' || url.hash !== '') return 'has a query or fragment, which git ignores';
  return null;
}

/**
 * `git -c` arguments that let one fetch use the credentials in `path`: git's own credential
 * store, looked up by the whole URL (`credential.useHttpPath`), and asked only for credentials.
 * The store helper would otherwise also rewrite the file after a fetch and delete a line after a
 * refused one (git calls it with `store` and `erase`): the operator's file is never written.
 */
export function gitCredentialArgs(path: string): string[] {
  const helper = `!f() { if [ "$1" = get ]; then exec git credential-store --file=${shellQuote(path)} get; fi; }; f`;
  return [
    '-c',
    'credential.helper=',
    '-c',
    `credential.helper=${helper}`,
    '-c',
    'credential.useHttpPath=true',
  ];
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
