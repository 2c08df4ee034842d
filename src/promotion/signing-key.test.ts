import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import {
  loadOrCreateSigningKey,
  PUBLIC_KEY_FILE,
  publicKeyInfo,
  SIGNING_KEY_FILE,
} from './signing-key.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aas-keys-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; file: unknown }> {
  try {
    await promise;
  } catch (error) {
    if (isAasError(error)) return { code: error.code, file: error.details.file };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('loadOrCreateSigningKey', () => {
  it('creates the key once with private modes and reuses it afterwards', async () => {
    const keysDir = join(tempDir(), 'nested', 'keys');
    const first = await loadOrCreateSigningKey(keysDir);
    const privatePath = join(keysDir, SIGNING_KEY_FILE);
    const pemBefore = readFileSync(privatePath, 'utf8');

    expect(statSync(keysDir).mode & 0o777).toBe(0o700);
    expect(statSync(privatePath).mode & 0o777).toBe(0o600);
    expect(pemBefore).toContain('-----BEGIN PRIVATE KEY-----');
    expect(readFileSync(join(keysDir, PUBLIC_KEY_FILE), 'utf8')).toBe(first.publicKeyPem);

    const second = await loadOrCreateSigningKey(keysDir);
    expect(second.keyId).toBe(first.keyId);
    expect(readFileSync(privatePath, 'utf8')).toBe(pemBefore);
    expect(readdirSync(keysDir).sort()).toEqual([PUBLIC_KEY_FILE, SIGNING_KEY_FILE].sort());
  });

  it('uses the SHA-256 of the SPKI DER as key id and signs verifiably', async () => {
    const key = await loadOrCreateSigningKey(tempDir());
    const der = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
    expect(key.keyId).toBe(`sha256:${createHash('sha256').update(der).digest('hex')}`);
    const data = Buffer.from('promote me');
    const sig = key.sign(data);
    expect(verify(null, data, key.publicKeyPem, sig)).toBe(true);
    expect(verify(null, Buffer.from('promote me!'), key.publicKeyPem, sig)).toBe(false);
  });

  it('gives racing creators the same key and leaves no temp files', async () => {
    const keysDir = join(tempDir(), 'keys');
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => loadOrCreateSigningKey(keysDir)),
    );
    expect(new Set(keys.map((key) => key.keyId)).size).toBe(1);
    expect(readdirSync(keysDir).sort()).toEqual([PUBLIC_KEY_FILE, SIGNING_KEY_FILE].sort());
    const onDisk = await loadOrCreateSigningKey(keysDir);
    expect(onDisk.keyId).toBe(keys[0]?.keyId);
  });

  it('rewrites a missing public key file from the private key', async () => {
    const keysDir = tempDir();
    const key = await loadOrCreateSigningKey(keysDir);
    unlinkSync(join(keysDir, PUBLIC_KEY_FILE));
    const again = await loadOrCreateSigningKey(keysDir);
    expect(again.keyId).toBe(key.keyId);
    expect(readFileSync(join(keysDir, PUBLIC_KEY_FILE), 'utf8')).toBe(key.publicKeyPem);
  });

  it('refuses a malformed, empty or non-Ed25519 private key with CONFIG_INVALID naming it', async () => {
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    for (const content of ['not a key\n', '', otherKey]) {
      const keysDir = tempDir();
      const privatePath = join(keysDir, SIGNING_KEY_FILE);
      writeFileSync(privatePath, content, { mode: 0o600 });
      expect(await codeOf(loadOrCreateSigningKey(keysDir))).toEqual({
        code: 'CONFIG_INVALID',
        file: privatePath,
      });
      // The broken key is left for a person to look at, never silently replaced.
      expect(readFileSync(privatePath, 'utf8')).toBe(content);
    }
  });

  it('refuses an unreadable key file and an unusable keys directory', async () => {
    const keysDir = tempDir();
    const privatePath = join(keysDir, SIGNING_KEY_FILE);
    mkdirSync(privatePath);
    expect(await codeOf(loadOrCreateSigningKey(keysDir))).toEqual({
      code: 'CONFIG_INVALID',
      file: privatePath,
    });

    const notADir = join(tempDir(), 'file');
    writeFileSync(notADir, 'x');
    expect(await codeOf(loadOrCreateSigningKey(notADir))).toEqual({
      code: 'CONFIG_INVALID',
      file: notADir,
    });
  });

  it('refuses a public key file that belongs to another key', async () => {
    const keysDir = tempDir();
    await loadOrCreateSigningKey(keysDir);
    const publicPath = join(keysDir, PUBLIC_KEY_FILE);
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    writeFileSync(publicPath, other);
    expect(await codeOf(loadOrCreateSigningKey(keysDir))).toEqual({
      code: 'CONFIG_INVALID',
      file: publicPath,
    });
    writeFileSync(publicPath, 'garbage');
    expect(await codeOf(loadOrCreateSigningKey(keysDir))).toEqual({
      code: 'CONFIG_INVALID',
      file: publicPath,
    });
  });
});

describe('publicKeyInfo', () => {
  function codeOfSync(run: () => unknown): string {
    try {
      run();
    } catch (error) {
      if (isAasError(error)) return error.code;
      throw error;
    }
    throw new Error('expected a throw');
  }

  it('derives the same key id as the signing key', async () => {
    const key = await loadOrCreateSigningKey(tempDir());
    expect(publicKeyInfo(key.publicKeyPem)).toEqual({
      keyId: key.keyId,
      publicKeyPem: key.publicKeyPem,
    });
  });

  it('refuses bad PEM, private keys and non-Ed25519 keys with INVALID_ARGUMENT', () => {
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const pem of [
      'garbage',
      ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ]) {
      expect(codeOfSync(() => publicKeyInfo(pem))).toBe('INVALID_ARGUMENT');
    }
  });
});
