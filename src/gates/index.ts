export { GateClass, type GateVerdict, type PathDenial } from './gate-verdict.js';
export { type GatePipelineInput, type GatePipelineResult, runGates } from './run-gates.js';
export type { ValidatorSpec } from './run-validator.js';
export { STATIC_GATES, symlinkEscape, symlinkProblem, touchedPaths } from './static-gates.js';
