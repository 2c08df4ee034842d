export {
  CreateScheduleBodySchema,
  type CreateScheduleInput,
  SCHEDULE_NAME_PATTERN,
  ScheduleNameSchema,
  ScheduleTimingInputSchema,
  UpdateScheduleBodySchema,
  type UpdateScheduleInput,
} from './schedule-input.js';
export {
  type FireNowResult,
  fireNow,
  type ScheduleDeps,
  ScheduleService,
  type ScheduleServiceOptions,
  type ScheduleState,
  type ScheduleTimingView,
  type ScheduleView,
  scheduleView,
  type TriggeredFire,
} from './schedule-service.js';
export {
  canonicalTimezone,
  checkCronPattern,
  type FirePlan,
  firstSlotFrom,
  firstSlotOfNewTiming,
  MAX_INTERVAL_SEC,
  MIN_INTERVAL_SEC,
  nextSlotAfter,
  planFire,
  type ScheduleTiming,
  slotsThrough,
  timingOf,
  upcomingSlots,
} from './schedule-timing.js';
export { Scheduler, type SchedulerOptions, type TickReport } from './scheduler.js';
