export { DEFAULT_PRICES } from './default-prices.js';
export {
  type BudgetExceeded,
  type BudgetLimit,
  budgetExceeded,
  budgetExceededError,
  type ModelBudget,
} from './model-budget.js';
export {
  CALL_REFUSALS,
  type CallRefusal,
  MODEL_APIS,
  MODEL_PROVIDERS,
  type ModelApi,
  type ModelCallRecord,
  type ModelProvider,
  type SpentTotals,
  type TokenUsage,
} from './model-call-record.js';
export {
  type GatewayListen,
  type ModelGateway,
  type ModelGatewayOptions,
  startModelGateway,
} from './model-gateway.js';
export type { UpstreamConfig } from './model-upstream.js';
export { newPlaceholderKey } from './placeholder-key.js';
export {
  costOf,
  type ModelPrice,
  type PriceTable,
  priceFor,
  validatePriceTable,
} from './price-table.js';
