import { describe, expect, it } from 'vitest';
import { fieldPositionInYaml } from './yaml-position.js';

describe('fieldPositionInYaml', () => {
  const text = 'task: x\nvalidators:\n  - command: npm test\n    timeoutSec: 0\nlabels: [a, b]\n';

  it('finds a key, an item of a list and a key inside one', () => {
    expect(fieldPositionInYaml(text, 'task')).toEqual({ line: 1, column: 1 });
    expect(fieldPositionInYaml(text, 'validators.0.timeoutSec')).toEqual({ line: 4, column: 5 });
    expect(fieldPositionInYaml(text, 'labels.1')).toEqual({ line: 5, column: 13 });
    expect(fieldPositionInYaml('{"a": {"b": 1}}', 'a.b')).toEqual({ line: 1, column: 8 });
  });

  it('says nothing of a field the text does not hold, or of a text that does not parse', () => {
    expect(fieldPositionInYaml(text, 'retries')).toBeNull();
    expect(fieldPositionInYaml(text, 'validators.3.command')).toBeNull();
    expect(fieldPositionInYaml(text, 'task.x')).toBeNull();
    expect(fieldPositionInYaml('a: [\n', 'a')).toBeNull();
  });
});
