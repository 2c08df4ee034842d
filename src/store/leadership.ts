import type { AasError } from '../kernel/index.js';

/** One process at a time among those sharing a database, for work that needs no more. */
export interface Leadership {
  /**
   * Whether this process leads now: takes the lead when nobody holds it, keeps it while its
   * hold lasts. Never throws: a database it cannot reach means not leading.
   */
  check(): Promise<boolean>;
  /** Gives the lead up (for good): another contender takes it at its next check. */
  release(): Promise<void>;
}

export interface LeadershipOptions {
  /**
   * How often the holder is checked (and its connection pinged). A leader unheard of for three
   * times this loses the lead, so one that froze or vanished cannot keep it.
   */
  readonly checkEveryMs: number;
  /** Why a check found no lead or lost it (an unreachable database): for the log. */
  readonly onTrouble?: (error: AasError) => void;
}
