import { describe, expect, it } from 'vitest';
import { parseLogName } from './run-files.js';

describe('log names', () => {
  it('map to one fixed file of one attempt', () => {
    expect(parseLogName('1.stdout.log')).toEqual({
      attempt: 1,
      dirs: ['attempt-1'],
      file: 'stdout.log',
    });
    expect(parseLogName('12.stderr.log')).toEqual({
      attempt: 12,
      dirs: ['attempt-12'],
      file: 'stderr.log',
    });
    expect(parseLogName('2.validator-3.stdout.log')).toEqual({
      attempt: 2,
      dirs: ['attempt-2', 'validators'],
      file: 'validator-3.stdout.log',
    });
  });

  it('refuse anything else', () => {
    for (const name of [
      '',
      'stdout.log',
      '0.stdout.log',
      '01.stdout.log',
      '1.stdout',
      '1.STDOUT.log',
      '1.stdout.log/',
      '1.stdout.log\n',
      '1/stdout.log',
      '../1.stdout.log',
      '1.validator-.stdout.log',
      '1.validator-0.stdout.log',
      '1.validator-1.summary.log',
      '1.aep/events.ndjson',
      '99999.stdout.log',
    ]) {
      expect(parseLogName(name), JSON.stringify(name)).toBeNull();
    }
  });
});
