import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { DEFAULT_PRICES, type PriceTable, validatePriceTable } from '../gateway/index.js';
import { AasError, normaliseError, yamlFailureMessage } from '../kernel/index.js';

const PriceSchema = z
  .object({
    inputPerMTokUsd: z.number().nonnegative(),
    outputPerMTokUsd: z.number().nonnegative(),
    cachedInputPerMTokUsd: z.number().nonnegative().optional(),
  })
  .strict();
const PriceFileSchema = z.record(z.string().min(1), PriceSchema);

/**
 * The gateway's price table: the built-in list prices, with `AAS_MODEL_PRICES` (a JSON or YAML
 * mapping of model id or `prefix*` to prices in USD per million tokens) merged over them. A
 * file that cannot be read or is invalid stops start-up: budgets must not run on a guess.
 */
export async function loadModelPrices(file: string | undefined): Promise<PriceTable> {
  if (file === undefined) return DEFAULT_PRICES;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot read the price table: ${normaliseError(thrown).message}`,
      {
        file,
        field: 'AAS_MODEL_PRICES',
      },
    );
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `the price table is not JSON or YAML: ${yamlFailureMessage(text, thrown)}`,
      {
        file,
        field: 'AAS_MODEL_PRICES',
      },
    );
  }
  const parsed = PriceFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AasError(
      'CONFIG_INVALID',
      `the price table is invalid: ${issue?.message ?? 'invalid'}`,
      {
        file,
        field: issue?.path.map(String).join('.') || 'AAS_MODEL_PRICES',
        hint: 'a mapping of model id (or prefix ending in *) to { inputPerMTokUsd, outputPerMTokUsd, cachedInputPerMTokUsd? }',
      },
    );
  }
  const table: PriceTable = { ...DEFAULT_PRICES, ...parsed.data };
  try {
    validatePriceTable(table);
  } catch (thrown) {
    throw new AasError('CONFIG_INVALID', normaliseError(thrown).message, {
      file,
      field: 'AAS_MODEL_PRICES',
    });
  }
  return table;
}
