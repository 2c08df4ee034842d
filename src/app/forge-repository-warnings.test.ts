import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../runner/index.js';
import { forgeRepositoryWarnings } from './forge-repository-warnings.js';

const job = (promotion: Record<string, unknown>) =>
  parseJobSpec({ task: 'x', repo: '/r', agent: 'mock', promotion });

describe('forgeRepositoryWarnings', () => {
  it('warns of a draft PR repository the operator does not list, whatever its case', () => {
    const named = job({ mode: 'draft_pr', repository: 'evil/repo' });
    const [warning] = forgeRepositoryWarnings(named, ['acme/app']);
    expect(warning).toMatchObject({ field: 'promotion.repository' });
    expect(warning?.message).toMatch(/^evil\/repo is not in AAS_GITHUB_REPOSITORIES/);
    expect(warning?.hint).toBe('the listed repositories are acme/app');
    expect(forgeRepositoryWarnings(named, ['Evil/Repo'])).toEqual([]);
  });

  it('says nothing of a job that names none, or promotes otherwise', () => {
    expect(forgeRepositoryWarnings(job({ mode: 'draft_pr' }), [])).toEqual([]);
    expect(forgeRepositoryWarnings(job({ mode: 'branch', repository: 'a/b' }), [])).toEqual([]);
  });
});
