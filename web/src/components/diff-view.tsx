import { useEffect, useMemo, useState } from 'react';
import { type ApiError, asApiError, fetchWithToken } from '../api';
import { highlightLine, languageOf } from '../highlight';
import type { PatchFiles } from '../pages/run-page';
import { type DiffFile, type DiffLine, displayPath, modeChange, parseDiff } from '../parse-diff';
import { ErrorBox } from './error-box';

function Code({ line, language }: { line: DiffLine; language: string | null }) {
  // highlight.js returns escaped HTML of this one line of the patch.
  // biome-ignore lint/security/noDangerouslySetInnerHtml: escaped by highlight.js / escapeHtml
  return <code dangerouslySetInnerHTML={{ __html: highlightLine(line.text, language) }} />;
}

/** Unique within a file: a hunk's header and the line's position on either side. */
function lineKey(header: string, line: DiffLine): string {
  return `${header}:${line.kind}:${line.oldNo ?? '-'}:${line.newNo ?? '-'}`;
}

function sign(kind: DiffLine['kind']): string {
  return kind === 'add' ? '+' : kind === 'del' ? '-' : ' ';
}

function UnifiedFile({ file }: { file: DiffFile }) {
  const language = languageOf(displayPath(file));
  return (
    <table className="diff unified">
      <tbody>
        {file.hunks.map((hunk) => [
          <tr key={hunk.header} className="hunk">
            <td colSpan={3}>{hunk.header}</td>
          </tr>,
          ...hunk.lines.map((line) => (
            <tr key={lineKey(hunk.header, line)} className={`line ${line.kind}`}>
              <td className="no">{line.oldNo ?? ''}</td>
              <td className="no">{line.newNo ?? ''}</td>
              <td className="text">
                <span className="sign" aria-hidden="true">
                  {sign(line.kind)}
                </span>
                <Code line={line} language={language} />
              </td>
            </tr>
          )),
        ])}
      </tbody>
    </table>
  );
}

/** Side by side: deletions on the left paired with the additions that replace them. */
function SplitFile({ file }: { file: DiffFile }) {
  const language = languageOf(displayPath(file));
  const rows: { left: DiffLine | null; right: DiffLine | null; key: string }[] = [];
  file.hunks.forEach((hunk, hunkIndex) => {
    rows.push({ left: null, right: null, key: `h${hunkIndex}` });
    let dels: DiffLine[] = [];
    let adds: DiffLine[] = [];
    const flush = () => {
      for (let i = 0; i < Math.max(dels.length, adds.length); i += 1) {
        rows.push({
          left: dels[i] ?? null,
          right: adds[i] ?? null,
          key: `${hunkIndex}-${rows.length}`,
        });
      }
      dels = [];
      adds = [];
    };
    for (const line of hunk.lines) {
      if (line.kind === 'del') dels.push(line);
      else if (line.kind === 'add') adds.push(line);
      else {
        flush();
        rows.push({ left: line, right: line, key: `${hunkIndex}-${rows.length}` });
      }
    }
    flush();
  });
  const side = (line: DiffLine | null, which: 'old' | 'new') =>
    line === null
      ? [<td key="n" className="no" />, <td key="t" className="text empty-side" />]
      : [
          <td key="n" className="no">
            {which === 'old' ? line.oldNo : line.newNo}
          </td>,
          <td key="t" className={`text ${line.kind}`}>
            <span className="sign" aria-hidden="true">
              {sign(line.kind)}
            </span>
            <Code line={line} language={language} />
          </td>,
        ];
  return (
    <table className="diff split">
      <tbody>
        {rows.map((row) =>
          row.left === null && row.right === null ? (
            <tr key={row.key} className="hunk">
              <td colSpan={4}>{file.hunks[Number(row.key.slice(1))]?.header}</td>
            </tr>
          ) : (
            <tr key={row.key} className="line">
              {side(row.left, 'old')}
              {side(row.right, 'new')}
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}

function FileMarks({ file }: { file: DiffFile }) {
  return (
    <span className="marks">
      {file.change === 'added' && <span className="mark added">new</span>}
      {file.change === 'deleted' && <span className="mark deleted">removed</span>}
      {file.change === 'renamed' && (
        <span className="mark renamed">renamed from {file.oldPath}</span>
      )}
      {file.binary && <span className="mark binary">binary</span>}
      {modeChange(file) !== null && <span className="mark mode">{modeChange(file)}</span>}
    </span>
  );
}

export function DiffView({
  runId,
  patchSha256,
  files: patchFiles,
  finished,
}: {
  runId: string;
  patchSha256: string | null;
  files: PatchFiles | null;
  /** The run has ended: no patch now means none will come. */
  finished: boolean;
}) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [mode, setMode] = useState<'unified' | 'split'>('unified');
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    if (patchSha256 === null) return;
    let cancelled = false;
    fetchWithToken(`/api/v1/runs/${encodeURIComponent(runId)}/patch`)
      .then(async (response) => {
        if (cancelled) return;
        if (response.ok) setText(await response.text());
        else setError(asApiError(await response.json().catch(() => null), response.status));
      })
      .catch(() => setError(asApiError(null)));
    return () => {
      cancelled = true;
    };
  }, [runId, patchSha256]);

  const files = useMemo(() => (text === null ? [] : parseDiff(text)), [text]);
  const dropped = patchFiles?.runtimeDropped ?? [];

  if (patchSha256 === null) {
    return (
      <div>
        <p className="empty">
          {finished
            ? 'This run ended without a patch.'
            : 'No patch yet: the agent has not finished, or it changed nothing.'}
        </p>
        <Dropped dropped={dropped} />
      </div>
    );
  }
  if (error !== null) return <ErrorBox error={error} title="The patch could not be loaded" />;
  if (text === null) return <p className="loading">Loading the patch…</p>;

  const shown = selected === null ? files : files.filter((file) => displayPath(file) === selected);
  return (
    <div className="diff-view">
      <aside className="file-tree" aria-label="Changed files">
        <h3>
          {files.length} changed file{files.length === 1 ? '' : 's'}
        </h3>
        <ul>
          <li>
            <button
              type="button"
              className="link"
              aria-pressed={selected === null}
              onClick={() => setSelected(null)}
            >
              All files
            </button>
          </li>
        </ul>
        <TreeLevel node={buildTree(files)} selected={selected} onSelect={setSelected} />
        <Dropped dropped={dropped} />
      </aside>
      <div className="diff-files">
        <fieldset className="diff-toolbar">
          <legend className="visually-hidden">Diff layout</legend>
          <button
            type="button"
            aria-pressed={mode === 'unified'}
            onClick={() => setMode('unified')}
          >
            Unified
          </button>
          <button
            type="button"
            className="secondary"
            aria-pressed={mode === 'split'}
            onClick={() => setMode('split')}
          >
            Split
          </button>
          <span className="mono sha">sha256 {patchSha256.slice(0, 16)}…</span>
        </fieldset>
        {shown.map((file) => (
          <article key={displayPath(file)} className="diff-file">
            <header>
              <h4 className="mono">{displayPath(file)}</h4>
              <FileMarks file={file} />
            </header>
            {file.binary ? (
              <p className="empty">Binary file: its contents are not shown.</p>
            ) : file.hunks.length === 0 ? (
              <p className="empty">
                {file.change === 'added' || file.change === 'deleted'
                  ? `An empty file${modeChange(file) !== null ? `, ${modeChange(file)}` : ''}.`
                  : `No textual change${modeChange(file) !== null ? `: ${modeChange(file)}.` : ' (a rename only).'}`}
              </p>
            ) : mode === 'unified' ? (
              <UnifiedFile file={file} />
            ) : (
              <SplitFile file={file} />
            )}
          </article>
        ))}
      </div>
    </div>
  );
}

interface TreeNode {
  readonly dirs: Map<string, TreeNode>;
  readonly files: { name: string; file: DiffFile }[];
}

/** Changed files grouped by directory, as nested lists. */
function buildTree(files: readonly DiffFile[]): TreeNode {
  const root: TreeNode = { dirs: new Map(), files: [] };
  for (const file of files) {
    const parts = displayPath(file).split('/');
    const name = parts.pop() ?? '';
    let node = root;
    for (const part of parts) {
      let next = node.dirs.get(part);
      if (next === undefined) {
        next = { dirs: new Map(), files: [] };
        node.dirs.set(part, next);
      }
      node = next;
    }
    node.files.push({ name, file });
  }
  return root;
}

function TreeLevel({
  node,
  selected,
  onSelect,
}: {
  node: TreeNode;
  selected: string | null;
  onSelect: (path: string) => void;
}) {
  return (
    <ul className="tree">
      {[...node.dirs].map(([name, child]) => (
        <li key={`d:${name}`}>
          <span className="dir mono">{name}/</span>
          <TreeLevel node={child} selected={selected} onSelect={onSelect} />
        </li>
      ))}
      {node.files.map(({ name, file }) => (
        <li key={`f:${displayPath(file)}`}>
          <button
            type="button"
            className="link mono"
            title={displayPath(file)}
            aria-pressed={selected === displayPath(file)}
            onClick={() => onSelect(displayPath(file))}
          >
            {name}
          </button>
          <FileMarks file={file} />
        </li>
      ))}
    </ul>
  );
}

function Dropped({ dropped }: { dropped: PatchFiles['runtimeDropped'] }) {
  if (dropped.length === 0) return null;
  return (
    <div className="dropped">
      <h3>Removed as runtime artifacts</h3>
      <p className="hint">Written by the agent, dropped from the patch by policy.</p>
      <ul>
        {dropped.map((item) => (
          <li key={item.path}>
            <span className="mono">{item.path}</span>{' '}
            <span className="mark dropped">
              {item.rule} ({item.layer})
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}
