export { createRuntime, type Runtime, type RuntimeOptions } from './create-runtime.js';
