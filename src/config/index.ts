export {
  type AasConfig,
  type BudgetsConfig,
  CONFIG_ENV_VARS,
  type ConfigSources,
  LogLevel,
  parseConfig,
  type SchedulerConfig,
  WorkspaceStrategySetting,
} from './config-schema.js';
