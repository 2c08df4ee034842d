export type {
  AttemptRecord,
  RunRecord,
  RunStatus,
  SessionRecord,
  StoredEvent,
} from '../store/index.js';
export { EventBus, type EventOrigin, type TypedStoredEvent } from './event-bus.js';
export {
  type GateVerdictData,
  isSessionEventType,
  type PreflightCheckData,
  SESSION_EVENT_TYPES,
  type SessionEventMap,
  type SessionEventType,
  type TypedEvent,
} from './event-map.js';
export { type ReplayedAttempt, replaySession, type SessionProjection } from './replay-session.js';
export { SessionRecorder, sessionEvent } from './session-recorder.js';
export {
  CHAIN_PROBLEM_KINDS,
  type ChainProblem,
  type ChainProblemKind,
  type ChainVerification,
  verifyChain,
} from './verify-chain.js';
