export {
  type AasConfig,
  CONFIG_ENV_VARS,
  type ConfigSources,
  LogLevel,
  parseConfig,
} from './config-schema.js';
