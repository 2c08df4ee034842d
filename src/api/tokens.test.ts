import { describe, expect, it } from 'vitest';
import { hashTokenSecret, isTokenSecretFormat, newTokenSecret } from './tokens.js';

describe('token secrets', () => {
  it('are aas_ and 32 random bytes in base64url, different every time', () => {
    const secrets = new Set(Array.from({ length: 100 }, () => newTokenSecret()));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) {
      expect(secret).toMatch(/^aas_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(4), 'base64url')).toHaveLength(32);
      expect(isTokenSecretFormat(secret)).toBe(true);
    }
  });

  it('hash to lowercase hex SHA-256', () => {
    // printf 'aas_test' | sha256sum
    expect(hashTokenSecret('aas_test')).toBe(
      '011adba93711f73b41198bc8252483eaba57e60ea434fb0f4a327adf21879390',
    );
    expect(hashTokenSecret('aas_test')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashTokenSecret('aas_a')).not.toBe(hashTokenSecret('aas_b'));
  });

  it('accepts only the aas_ format with at least 32 characters after the prefix', () => {
    expect(isTokenSecretFormat(`aas_${'a'.repeat(32)}`)).toBe(true);
    expect(isTokenSecretFormat(`aas_${'a'.repeat(31)}`)).toBe(false);
    expect(isTokenSecretFormat(`AAS_${'a'.repeat(40)}`)).toBe(false);
    expect(isTokenSecretFormat(`aas_${'a'.repeat(39)}=`)).toBe(false);
    expect(isTokenSecretFormat(`aas_${'a'.repeat(39)} `)).toBe(false);
    expect(isTokenSecretFormat(`aas_${'a'.repeat(300)}`)).toBe(false);
  });
});
