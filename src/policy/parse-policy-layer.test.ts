import { describe, expect, it } from 'vitest';
import { AasError, isAasError } from '../kernel/index.js';
import { parsePolicyLayer } from './parse-policy-layer.js';

function failure(text: string, file = 'policy.yaml'): AasError {
  try {
    parsePolicyLayer(text, { file });
  } catch (thrown) {
    if (isAasError(thrown)) return thrown;
    throw thrown;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parsePolicyLayer', () => {
  it('reads a full YAML layer', () => {
    const layer = parsePolicyLayer(
      [
        'version: 1',
        'paths:',
        '  allow: [src/**, tests/**]',
        '  deny: ["**/*.secret"]',
        '  runtime: [dist/**]',
        'network:',
        '  allow: [registry.npmjs.org, "*.github.com:443"]',
        'tools: [bash, edit]',
        'env: { allow: [CI, NODE_ENV] }',
        'limits: { timeoutSec: 600, maxChangedFiles: 10, maxPatchLines: 400, maxOutputBytes: 1048576, maxCostUsd: 2.5 }',
        'binaryChanges: false',
        'sandbox: required',
        'promotion: { approvals: 2, requireDistinctApprover: true, protectedBranches: [main] }',
      ].join('\n'),
      { file: '.aas/policy.yaml' },
    );
    expect(layer).toEqual({
      version: 1,
      paths: { allow: ['src/**', 'tests/**'], deny: ['**/*.secret'], runtime: ['dist/**'] },
      network: { allow: ['registry.npmjs.org', '*.github.com:443'] },
      tools: ['bash', 'edit'],
      env: { allow: ['CI', 'NODE_ENV'] },
      limits: {
        timeoutSec: 600,
        maxChangedFiles: 10,
        maxPatchLines: 400,
        maxOutputBytes: 1048576,
        maxCostUsd: 2.5,
      },
      binaryChanges: false,
      sandbox: 'required',
      promotion: { approvals: 2, requireDistinctApprover: true, protectedBranches: ['main'] },
    });
  });

  it("says why the control plane's own variables cannot be listed", () => {
    expect(failure('env: { allow: [AAS_TOKEN] }').message).toContain(
      "AAS_* variables are the control plane's own configuration and secrets",
    );
  });

  it('reads JSON, which is YAML', () => {
    const text = JSON.stringify({
      paths: { allow: ['src/**'] },
      network: 'full',
      limits: { timeoutSec: 60 },
    });
    expect(parsePolicyLayer(text, { file: 'job.json' })).toEqual({
      paths: { allow: ['src/**'] },
      network: 'full',
      limits: { timeoutSec: 60 },
    });
    expect(parsePolicyLayer(text, { file: 'layer.yaml' })).toEqual(
      parsePolicyLayer(text, { file: 'job.json' }),
    );
  });

  it.each([
    ['', 'empty'],
    ['   \n\n', 'blank'],
    ['# nothing here yet\n', 'comment only'],
    ['~', 'explicit null'],
  ])('treats a %j YAML file (%s) as an empty layer', (text) => {
    expect(parsePolicyLayer(text, { file: 'policy.yaml' })).toEqual({});
  });

  it.each(['', '  \n', 'null'])('treats a %j JSON file as an empty layer', (text) => {
    expect(parsePolicyLayer(text, { file: 'policy.json' })).toEqual({});
  });

  it('accepts a byte-order mark', () => {
    expect(parsePolicyLayer('\uFEFF{"binaryChanges": true}', { file: 'p.json' })).toEqual({
      binaryChanges: true,
    });
    expect(parsePolicyLayer('\uFEFFbinaryChanges: true\n', { file: 'p.yaml' })).toEqual({
      binaryChanges: true,
    });
  });

  it('rejects an unknown key and names it, with its position', () => {
    const error = failure('paths:\n  allow: [src/**]\n  deny_paths: [x]\n');
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.details).toMatchObject({
      file: 'policy.yaml',
      field: 'paths.deny_paths',
      line: 3,
      column: 3,
    });
    expect(error.message).toContain('unknown key "deny_paths"');
    expect(error.details.hint).toContain('allow, deny, runtime');
  });

  it('rejects an unknown top-level key', () => {
    const error = failure('{"pathz": {}}', 'job.json');
    expect(error.details).toMatchObject({ file: 'job.json', field: 'pathz' });
    expect(error.details.hint).toContain('paths');
  });

  it.each([
    ['limits:\n  timeoutSec: "600"\n', 'limits.timeoutSec', 2],
    ['limits:\n  timeoutSec: 1.5\n', 'limits.timeoutSec', 2],
    ['limits:\n  timeoutSec: 0\n', 'limits.timeoutSec', 2],
    ['limits:\n  maxChangedFiles: -1\n', 'limits.maxChangedFiles', 2],
    ['limits:\n  maxCostUsd: -0.5\n', 'limits.maxCostUsd', 2],
    ['limits:\n  maxInputTokens: 1.5\n', 'limits.maxInputTokens', 2],
    ['limits:\n  maxOutputTokens: -1\n', 'limits.maxOutputTokens', 2],
    ['binaryChanges: yes\n', 'binaryChanges', 1],
    ['sandbox: strict\n', 'sandbox', 1],
    ['network: none\n', 'network', 1],
    ['network:\n  allow: example.com\n', 'network.allow', 2],
    ['network:\n  allow: [ok.example.com, "bad host"]\n', 'network.allow[1]', 2],
    ['network:\n  allow: ["::1"]\n', 'network.allow[0]', 2],
    ['network:\n  allow: ["example.com:70000"]\n', 'network.allow[0]', 2],
    ['network:\n  allow: ["*.com"]\n', 'network.allow[0]', 2],
    ['env:\n  allow: [1BAD]\n', 'env.allow[0]', 2],
    ['env:\n  allow: [CI, AAS_GITHUB_TOKEN]\n', 'env.allow[1]', 2],
    ['version: 2\n', 'version', 1],
    ['promotion:\n  approvals: many\n', 'promotion.approvals', 2],
    ['paths:\n  allow: src/**\n', 'paths.allow', 2],
  ])('names the exact field of a wrong value: %j', (text, field, line) => {
    const error = failure(text);
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.details.field).toBe(field);
    expect(error.details.line).toBe(line);
    expect(typeof error.details.hint).toBe('string');
    expect(error.describe()).toContain(`policy.yaml: ${field}: `);
  });

  it.each([
    ['/etc/**', 'absolute'],
    ['../outside/**', "'..'"],
    ['src/../../x', "'..'"],
    ['', 'empty'],
    ['src/\0x', 'NUL'],
    ['!src/**', 'negation'],
    ['./src/**', "'.'"],
    ['src/', "ends with '/'"],
    ['src//a', 'empty segment'],
    [' src/**', 'whitespace'],
  ])('rejects the glob %j with a clear message', (pattern, words) => {
    for (const list of ['allow', 'deny', 'runtime']) {
      const error = failure(
        JSON.stringify({ paths: { [list]: ['ok/**', pattern] } }),
        'layer.json',
      );
      expect(error.details.field).toBe(`paths.${list}[1]`);
      expect(error.message).toContain(words);
      expect(String(error.details.hint).length).toBeGreaterThan(10);
    }
  });

  it('names line and column of a YAML syntax error', () => {
    const error = failure('paths:\n  allow: [src/**\nlimits: {}\n');
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.message).toMatch(/YAML syntax error at line \d+, column \d+/);
    expect(error.details.line).toBeGreaterThanOrEqual(2);
  });

  it('locates an unclosed quote where it opened, not where the file ends', () => {
    const error = failure('paths:\n  deny: ["secrets/**]\nlimits:\n  timeoutSec: 60\n');
    expect(error.details).toMatchObject({ line: 2, column: 10 });
    expect(error.message).toMatch(
      /^YAML syntax error at line 2, column 10: the quote \("\) opened at line 2, column 10 is never closed/,
    );
  });

  it('reports the position of a tab indent', () => {
    const error = failure('paths:\n\tallow: [a]\n');
    expect(error.message).toMatch(/line 2, column 1/);
  });

  it('rejects duplicate keys instead of letting the last one win', () => {
    expect(failure('paths:\n  deny: [a]\n  deny: []\n').message).toMatch(
      /line 3, column 3: duplicate key/,
    );
    expect(failure('{"paths": {"deny": ["a"]}, "paths": {}}', 'p.json').message).toMatch(
      /line 1, column 28: duplicate key/,
    );
  });

  it('holds .json files to JSON syntax, with positions', () => {
    expect(failure('{"limits": {"timeoutSec": 1,}}', 'p.json').message).toMatch(
      /JSON syntax error at line 1, column 29/,
    );
    expect(failure('{\n  "binaryChanges": tru\n}', 'p.json').message).toMatch(
      /JSON syntax error at line 2, column 20/,
    );
    expect(failure('paths:\n  allow: [a]\n', 'p.json').message).toMatch(/JSON syntax error/);
  });

  it('rejects several YAML documents in one file', () => {
    expect(failure('paths: {}\n---\nnetwork: full\n').message).toMatch(
      /line 2, column 1: the file holds more than one document/,
    );
  });

  it('rejects a layer that is not a mapping', () => {
    const error = failure('- src/**\n');
    expect(error.details.field).toBe('');
    expect(error.message).toContain('expected a mapping');
  });

  it('does not let __proto__ through', () => {
    expect(failure('__proto__: { binaryChanges: true }\n').details.field).toBe('__proto__');
  });

  it('bounds alias expansion', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${'b'.repeat(i + 1)}: &${'b'.repeat(i + 1)} [${Array(10)
          .fill(`*${i === 0 ? 'a' : 'b'.repeat(i)}`)
          .join(', ')}]`,
      );
    expect(failure(bomb.join('\n')).message).toMatch(/alias/i);
  });

  it('returns errors that are AasErrors', () => {
    expect(failure('limits: 3')).toBeInstanceOf(AasError);
  });
});
