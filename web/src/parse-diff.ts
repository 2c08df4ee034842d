/** One file of a git diff, as the diff view shows it. */
export interface DiffFile {
  readonly oldPath: string | null;
  readonly newPath: string | null;
  readonly change: 'added' | 'deleted' | 'modified' | 'renamed';
  readonly binary: boolean;
  /** Git's file modes (`100644`, `100755`, `120000` a symlink): null where the diff names none. */
  readonly oldMode: string | null;
  readonly newMode: string | null;
  readonly hunks: DiffHunk[];
}

export interface DiffHunk {
  readonly header: string;
  readonly lines: DiffLine[];
}

export interface DiffLine {
  readonly kind: 'context' | 'add' | 'del' | 'note';
  readonly text: string;
  readonly oldNo: number | null;
  readonly newNo: number | null;
}

function unquote(path: string): string {
  if (!path.startsWith('"')) return path;
  try {
    return JSON.parse(path) as string;
  } catch {
    return path.slice(1, -1);
  }
}

function stripPrefix(path: string): string | null {
  const clean = unquote(path.trim());
  if (clean === '/dev/null') return null;
  return clean.replace(/^[ab]\//, '');
}

/**
 * The two paths of a `diff --git` line. Quoted paths are unambiguous; unquoted ones may hold
 * spaces, and then only the equal halves of `a/P b/P` can be told apart (a rename's real
 * names come later, from its `rename from` / `rename to` lines).
 */
function headerPaths(rest: string): [string | null, string | null] {
  const quoted = /^("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(rest);
  if (quoted?.[1] && quoted[2]) return [stripPrefix(quoted[1]), stripPrefix(quoted[2])];
  const half = (rest.length - 5) / 2;
  if (Number.isInteger(half) && half > 0) {
    const path = rest.slice(2, 2 + half);
    if (rest === `a/${path} b/${path}`) return [path, path];
  }
  return [null, null];
}

/** Parses `git diff` output (the patch AAS computed) into files, hunks and numbered lines. */
export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: {
    oldPath: string | null;
    newPath: string | null;
    change: DiffFile['change'];
    binary: boolean;
    oldMode: string | null;
    newMode: string | null;
    hunks: DiffHunk[];
  } | null = null;
  let hunk: DiffHunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  const push = () => {
    if (file !== null) files.push(file);
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('diff --git ')) {
      push();
      const [oldPath, newPath] = headerPaths(line.slice('diff --git '.length));
      file = {
        oldPath,
        newPath,
        change: 'modified',
        binary: false,
        oldMode: null,
        newMode: null,
        hunks: [],
      };
      hunk = null;
      continue;
    }
    if (file === null) continue;
    if (hunk === null) {
      if (line.startsWith('new file mode ')) {
        file.change = 'added';
        file.newMode = line.slice('new file mode '.length).trim();
      } else if (line.startsWith('deleted file mode ')) {
        file.change = 'deleted';
        file.oldMode = line.slice('deleted file mode '.length).trim();
      } else if (line.startsWith('old mode ')) file.oldMode = line.slice('old mode '.length).trim();
      else if (line.startsWith('new mode ')) file.newMode = line.slice('new mode '.length).trim();
      else if (line.startsWith('rename from ')) {
        file.change = 'renamed';
        file.oldPath = unquote(line.slice('rename from '.length));
      } else if (line.startsWith('rename to '))
        file.newPath = unquote(line.slice('rename to '.length));
      else if (line.startsWith('Binary files ') || line === 'GIT binary patch') file.binary = true;
      else if (line.startsWith('--- ')) file.oldPath = stripPrefix(line.slice(4));
      else if (line.startsWith('+++ ')) file.newPath = stripPrefix(line.slice(4));
    }
    const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (header) {
      hunk = { header: line, lines: [] };
      file.hunks.push(hunk);
      oldNo = Number(header[1]);
      newNo = Number(header[2]);
      continue;
    }
    if (hunk === null) continue;
    if (line.startsWith('+'))
      hunk.lines.push({ kind: 'add', text: line.slice(1), oldNo: null, newNo: newNo++ });
    else if (line.startsWith('-'))
      hunk.lines.push({ kind: 'del', text: line.slice(1), oldNo: oldNo++, newNo: null });
    else if (line.startsWith(' ')) {
      hunk.lines.push({ kind: 'context', text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
    } else if (line.startsWith('\\'))
      hunk.lines.push({ kind: 'note', text: line, oldNo: null, newNo: null });
  }
  push();
  return files;
}

export function displayPath(file: DiffFile): string {
  return file.newPath ?? file.oldPath ?? '(unknown)';
}

const MODE_WORDS: Readonly<Record<string, string>> = {
  '100644': 'a file',
  '100755': 'executable',
  '120000': 'a symlink',
  '160000': 'a submodule',
};

/**
 * What a change of git mode means for a reviewer, or null when nothing changed that way: an
 * executable bit set or cleared is as much a change as a line, and an approver must see it.
 */
export function modeChange(file: DiffFile): string | null {
  const { oldMode, newMode } = file;
  if (file.change === 'added') {
    return newMode !== null && newMode !== '100644'
      ? `new as ${MODE_WORDS[newMode] ?? `mode ${newMode}`}`
      : null;
  }
  if (oldMode === null || newMode === null || oldMode === newMode) return null;
  const from = MODE_WORDS[oldMode] ?? `mode ${oldMode}`;
  const to = MODE_WORDS[newMode] ?? `mode ${newMode}`;
  return `was ${from}, now ${to} (${oldMode} → ${newMode})`;
}
