import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, sha256Hex } from '../kernel/index.js';

export const SIGNING_KEY_FILE = 'signing-key.pem';
export const PUBLIC_KEY_FILE = 'signing-key.pub.pem';

/** A public key as verifiers are given it: the id signatures name, and the key itself. */
export interface PublicKeyInfo {
  /** `sha256:` + hex SHA-256 of the SPKI DER bytes, so the id is a fingerprint, not a label. */
  readonly keyId: string;
  readonly publicKeyPem: string;
}

/** The installation's signing key. The private half never leaves this closure. */
export interface SigningKey extends PublicKeyInfo {
  sign(data: Buffer): Buffer;
}

const PRIVATE_PEM_MARKER = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * The installation's Ed25519 key under `keysDir`, created on first use. Creation is race-safe
 * across processes: the key is written in full to a private temp file and then hard-linked to
 * its final name, which fails if the name exists, so a reader never sees a half-written key and
 * two racing creators end with the one key that won the link.
 */
export async function loadOrCreateSigningKey(keysDir: string): Promise<SigningKey> {
  await ensureKeysDir(keysDir);
  const privatePath = join(keysDir, SIGNING_KEY_FILE);
  const existing = await readKeyFile(privatePath);
  const pem = existing ?? (await createPrivateKeyFile(keysDir, privatePath));
  const key = signingKeyFromPem(pem, privatePath);
  await ensurePublicKeyFile(keysDir, key);
  return key;
}

/** Key id and normalised SPKI PEM of an Ed25519 public key. */
export function publicKeyInfo(pem: string): PublicKeyInfo {
  // createPublicKey would happily derive a public key from a private one; a private key where a
  // public one belongs means it is about to be copied somewhere it should not be.
  if (PRIVATE_PEM_MARKER.test(pem)) {
    throw new AasError('INVALID_ARGUMENT', 'expected a public key PEM but got a private key', {
      hint: `pass the contents of ${PUBLIC_KEY_FILE}, never ${SIGNING_KEY_FILE}`,
    });
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `not a valid public key PEM: ${(error as Error).message}`,
      { hint: 'expected an Ed25519 SPKI PEM (-----BEGIN PUBLIC KEY-----)' },
      { cause: error },
    );
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new AasError(
      'INVALID_ARGUMENT',
      `public key is ${publicKey.asymmetricKeyType ?? 'of an unknown type'}, not Ed25519`,
      { hint: 'attestations are signed with Ed25519 only' },
    );
  }
  return describePublicKey(publicKey);
}

function describePublicKey(publicKey: KeyObject): PublicKeyInfo {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    keyId: `sha256:${sha256Hex(der)}`,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

async function ensureKeysDir(keysDir: string): Promise<void> {
  try {
    // umask can only clear bits, so 0700 stays 0700 for the directories this creates.
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot create the keys directory: ${(error as Error).message}`,
      { file: keysDir, hint: 'the keys directory must be a writable directory' },
      { cause: error },
    );
  }
}

/** The file's text, or null when it does not exist yet; any other failure is a config error. */
async function readKeyFile(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw new AasError(
      'CONFIG_INVALID',
      `cannot read the key file: ${(error as Error).message}`,
      { file: path, hint: 'make the file readable by this user, or remove it to start afresh' },
      { cause: error },
    );
  }
}

function signingKeyFromPem(pem: string, path: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw malformedPrivateKey(path, (error as Error).message, error);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw malformedPrivateKey(
      path,
      `key type is ${privateKey.asymmetricKeyType ?? 'unknown'}, not Ed25519`,
    );
  }
  const info = describePublicKey(createPublicKey(privateKey));
  return {
    keyId: info.keyId,
    publicKeyPem: info.publicKeyPem,
    sign: (data) => sign(null, data, privateKey),
  };
}

function malformedPrivateKey(path: string, reason: string, cause?: unknown): AasError {
  return new AasError(
    'CONFIG_INVALID',
    `the signing key is not a valid Ed25519 PKCS#8 PEM: ${reason}`,
    {
      file: path,
      // Deleting the key is the fix, but it also orphans every attestation it signed.
      hint: 'restore the file from backup; removing it makes a new key, and attestations signed by the old key then verify only against its saved public key',
    },
    cause === undefined ? undefined : { cause },
  );
}

/** Writes a new key unless another process got there first; returns whichever key won. */
async function createPrivateKeyFile(keysDir: string, privatePath: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const tempPath = await writeTempFile(keysDir, SIGNING_KEY_FILE, pem, 0o600);
  try {
    // link, unlike rename, refuses to replace an existing name: exactly one creator wins.
    await link(tempPath, privatePath);
    return pem;
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') {
      throw new AasError(
        'CONFIG_INVALID',
        `cannot create the signing key: ${(error as Error).message}`,
        {
          file: privatePath,
          hint: 'the keys directory must be writable and on a filesystem with hard links',
        },
        { cause: error },
      );
    }
    const theirs = await readKeyFile(privatePath);
    if (theirs === null) {
      throw new AasError('CONFIG_INVALID', 'the signing key vanished while being created', {
        file: privatePath,
        hint: 'something else is deleting files in the keys directory',
      });
    }
    return theirs;
  } finally {
    await unlink(tempPath).catch(() => undefined);
  }
}

/**
 * The public key file is derived from the private key, so it is (re)written when missing; one
 * that names a different key is refused rather than overwritten, because verifiers may already
 * trust whatever it says.
 */
async function ensurePublicKeyFile(keysDir: string, key: SigningKey): Promise<void> {
  const publicPath = join(keysDir, PUBLIC_KEY_FILE);
  const existing = await readKeyFile(publicPath);
  if (existing === null) {
    const tempPath = await writeTempFile(keysDir, PUBLIC_KEY_FILE, key.publicKeyPem, 0o644);
    try {
      // Racing writers write identical bytes, so last-rename-wins is harmless here.
      await rename(tempPath, publicPath);
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw new AasError(
        'CONFIG_INVALID',
        `cannot write the public key: ${(error as Error).message}`,
        { file: publicPath, hint: 'the keys directory must be writable' },
        { cause: error },
      );
    }
    return;
  }
  let info: PublicKeyInfo;
  try {
    info = publicKeyInfo(existing);
  } catch (error) {
    throw new AasError(
      'CONFIG_INVALID',
      `the public key file is not a valid Ed25519 public key PEM: ${(error as Error).message}`,
      { file: publicPath, hint: `remove it; it is rewritten from ${SIGNING_KEY_FILE}` },
      { cause: error },
    );
  }
  if (info.keyId !== key.keyId) {
    throw new AasError(
      'CONFIG_INVALID',
      `the public key file holds ${info.keyId}, but ${SIGNING_KEY_FILE} is ${key.keyId}`,
      {
        file: publicPath,
        hint: `one of the two files was replaced; remove ${PUBLIC_KEY_FILE} if ${SIGNING_KEY_FILE} is the right key`,
      },
    );
  }
}

/** Creates a uniquely named file with exactly `content`, flushed to disk, and returns its path. */
async function writeTempFile(
  dir: string,
  baseName: string,
  content: string,
  mode: number,
): Promise<string> {
  const tempPath = join(dir, `.${baseName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tempPath, 'wx', mode);
    try {
      await handle.writeFile(content, 'utf8');
      // The mode given to open is filtered by umask; set it outright so 0600 means 0600.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
    throw new AasError(
      'CONFIG_INVALID',
      `cannot write in the keys directory: ${(error as Error).message}`,
      { file: tempPath, hint: 'the keys directory must be writable by this user' },
      { cause: error },
    );
  }
  return tempPath;
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
