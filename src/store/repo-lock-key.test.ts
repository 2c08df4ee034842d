import { describe, expect, it } from 'vitest';
import { repoLockKey } from './repo-lock-key.js';

describe('repoLockKey', () => {
  it('is a stable signed 64-bit decimal, distinct per repo', () => {
    const key = repoLockKey('/srv/repos/demo');
    expect(key).toBe(repoLockKey('/srv/repos/demo'));
    expect(key).toMatch(/^-?\d+$/);
    const value = BigInt(key);
    expect(value >= -(2n ** 63n) && value < 2n ** 63n).toBe(true);
    expect(repoLockKey('/srv/repos/other')).not.toBe(key);
  });
});
