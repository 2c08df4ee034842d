import { createHash } from 'node:crypto';
import type { Compilable, CompiledQuery } from 'kysely';
import { AasError } from '../kernel/index.js';

/** Marks a placeholder parameter; no value the store binds contains a NUL character. */
const MARK = '\u0000aas-placeholder:';

type Slot = { readonly key: string } | { readonly constant: unknown };

interface Template {
  readonly compiled: CompiledQuery;
  readonly slots: readonly Slot[];
  readonly keys: readonly string[];
}

/** Per Kysely instance (one dialect, one store): shape → compiled statement. */
const templates = new WeakMap<object, Map<string, Template>>();

/**
 * SQL text of every template → the name PostgreSQL connections prepare it under (see
 * postgres-prepared-driver.ts). Bounded like the templates: one entry per shape's text.
 */
const preparedNames = new Map<string, string>();

/** The prepared-statement name of a template's SQL text; undefined for any other statement. */
export function preparedStatementName(sqlText: string): string | undefined {
  return preparedNames.get(sqlText);
}

/**
 * Builds and compiles a statement once per `shape`; later calls only bind `values`. Kysely
 * spends 10–50 µs building and compiling one statement, a large share of a SQLite write
 * transaction that costs a few hundred, and the hot writes (claim, finish, append) repeat a
 * handful of shapes.
 *
 * `build` receives a placeholder in place of every value and must use values only through it:
 * everything that changes the SQL text (which columns are set, how many rows or list items,
 * whether a condition is present) belongs in `shape`, and `build` must not capture anything
 * that varies between calls of one shape. A placeholder that ends up in the SQL text instead of
 * a parameter (e.g. inlined with `sql.lit`) is refused when the template is made.
 */
export function cachedStatement<V extends Record<string, unknown>, Row>(
  db: object,
  shape: string,
  values: V,
  build: (placeholders: V) => Compilable<Row>,
): CompiledQuery<Row> {
  let byShape = templates.get(db);
  if (byShape === undefined) {
    byShape = new Map();
    templates.set(db, byShape);
  }
  let template = byShape.get(shape);
  if (template === undefined) {
    template = makeTemplate(shape, Object.keys(values), build);
    byShape.set(shape, template);
  } else if (!sameKeys(template.keys, values)) {
    throw new AasError('INTERNAL', `statement ${shape} was called with other values than it has`, {
      shape,
    });
  }
  return {
    ...template.compiled,
    parameters: template.slots.map((slot) => ('key' in slot ? values[slot.key] : slot.constant)),
  } as CompiledQuery<Row>;
}

function makeTemplate<V extends Record<string, unknown>>(
  shape: string,
  keys: readonly string[],
  build: (placeholders: V) => Compilable<unknown>,
): Template {
  const placeholders = Object.fromEntries(keys.map((key) => [key, `${MARK}${key}`])) as V;
  const compiled = build(placeholders).compile();
  if (compiled.sql.includes(MARK)) {
    throw new AasError('INTERNAL', `statement ${shape} inlines a value into its SQL text`, {
      shape,
    });
  }
  if (!preparedNames.has(compiled.sql)) {
    // From the text itself, so equal texts share a name and different ones cannot (96 bits).
    const digest = createHash('sha256').update(compiled.sql).digest('hex');
    preparedNames.set(compiled.sql, `aas_${digest.slice(0, 24)}`);
  }
  const slots = compiled.parameters.map(
    (parameter): Slot =>
      typeof parameter === 'string' && parameter.startsWith(MARK)
        ? { key: parameter.slice(MARK.length) }
        : { constant: parameter },
  );
  return { compiled, slots, keys };
}

function sameKeys(keys: readonly string[], values: Record<string, unknown>): boolean {
  const given = Object.keys(values);
  return given.length === keys.length && keys.every((key) => key in values);
}
