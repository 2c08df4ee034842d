import { describe, expect, it } from 'vitest';
import { redactSecrets, SecretRedactor } from './secret-redactor.js';

const KEY = 'sk-real-0123456789';

function run(redactor: SecretRedactor, text: string, size: number): { out: string; held: number } {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  let held = 0;
  for (let at = 0; at < bytes.length; at += size) {
    const out = redactor.push(Buffer.from(bytes.subarray(at, at + size)));
    parts.push(out);
    held = Math.max(held, at + size - Buffer.concat(parts).length);
  }
  parts.push(redactor.end());
  return { out: Buffer.concat(parts).toString(), held };
}

describe('SecretRedactor', () => {
  it('overwrites a secret split across chunks, byte for byte', () => {
    const text = `data: {"key":"${KEY}"}\n\nand again ${KEY}`;
    for (const size of [1, 2, 5, 13, 1000]) {
      const { out } = run(new SecretRedactor([KEY]), text, size);
      expect(out, `${size}`).toBe(text.replaceAll(KEY, '*'.repeat(KEY.length)));
      expect(Buffer.byteLength(out)).toBe(Buffer.byteLength(text));
    }
  });

  it('holds back nothing of a chunk that ends a line', () => {
    const redactor = new SecretRedactor([KEY]);
    expect(redactor.push(Buffer.from('event: a\ndata: {}\n\n')).toString()).toBe(
      'event: a\ndata: {}\n\n',
    );
  });

  it('lets a long line through except a secret-length tail', () => {
    const redactor = new SecretRedactor([KEY], 32);
    const out = redactor.push(Buffer.from('x'.repeat(100)));
    expect(out.length).toBe(100 - (KEY.length - 1));
    expect(redactor.end().length).toBe(KEY.length - 1);
  });

  it('passes everything through when there is no secret', () => {
    const chunk = Buffer.from('partial line');
    expect(new SecretRedactor([]).push(chunk)).toBe(chunk);
  });

  it('redacts strings', () => {
    expect(redactSecrets(`a ${KEY} b ${KEY}`, [KEY, ''])).toBe(
      `a ${'*'.repeat(KEY.length)} b ${'*'.repeat(KEY.length)}`,
    );
  });
});
