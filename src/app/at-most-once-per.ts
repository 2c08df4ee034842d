/**
 * `call` runs `action` at once unless it ran less than `gapMs` ago; calls meanwhile run it once
 * more at the end of that gap.
 */
export function atMostOncePer(gapMs: number, action: () => void): { call(): void; stop(): void } {
  let gap: NodeJS.Timeout | null = null;
  let owed = false;
  let stopped = false;
  const call = (): void => {
    if (stopped) return;
    if (gap !== null) {
      owed = true;
      return;
    }
    action();
    gap = setTimeout(() => {
      gap = null;
      if (!owed) return;
      owed = false;
      call();
    }, gapMs);
    gap.unref();
  };
  return {
    call,
    stop() {
      stopped = true;
      if (gap !== null) clearTimeout(gap);
    },
  };
}
