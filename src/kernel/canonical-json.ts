/**
 * Deterministic JSON: object keys sorted by UTF-16 code units, no whitespace, `undefined`
 * members dropped. Two equal values always serialise to the same bytes, which is what the
 * event hash chain needs.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value);
}

function serialise(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('canonicalJson: bigint is not representable');
    case 'object': {
      // Plain loops rather than entries/filter/map: this runs for every event appended and
      // every event verified (about 2x faster than the functional form on typical payloads).
      if (Array.isArray(value)) {
        let out = '[';
        for (let index = 0; index < value.length; index += 1) {
          if (index > 0) out += ',';
          const item: unknown = value[index];
          out += item === undefined ? 'null' : serialise(item);
        }
        return `${out}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const record = value as Record<string, unknown>;
      // Default sort order is by UTF-16 code units, the order the hash chain is defined with.
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(key)}:${serialise(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonicalJson: unsupported type ${typeof value}`);
  }
}
