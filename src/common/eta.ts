// The time left as the UI says it. The engine extrapolates the elapsed time from each progress event, which
// wobbles from event to event: the ETA shown counts down steadily and takes a new estimate only when it
// differs by more than a quarter (or a few seconds), so it does not jump back and forth.

export interface Eta {
  /** Seconds left when it was set... */
  seconds: number;
  /** ...at this time (ms, performance.now()). */
  at: number;
}

const TOLERANCE = 0.25;
const TOLERANCE_SECONDS = 3;
/** Below this fraction of the work done, the job is not "almost done" whatever the clock says. */
const ALMOST_DONE_PROGRESS = 0.9;
/** Before this fraction of the work, an extrapolation from the time spent says little: nothing is said. */
const FIRST_PROGRESS = 0.05;

/** Seconds left by `eta` at `now`, counting down from when it was set (never below 0). */
export function remaining(eta: Eta, now: number): number {
  return Math.max(0, eta.seconds - (now - eta.at) / 1000);
}

/** The ETA to show after the engine reported `reported` seconds at `now`. */
export function nextEta(shown: Eta | null, reported: number | null, now: number): Eta | null {
  if (reported === null) return null;
  if (!shown) return { seconds: reported, at: now };
  const left = remaining(shown, now);
  return Math.abs(reported - left) > Math.max(TOLERANCE_SECONDS, TOLERANCE * left)
    ? { seconds: reported, at: now }
    : shown;
}

/**
 * "about 40 s left", "about 3 min left", "almost done" (only near the end of the work; before it a short
 * job's last seconds are "a few seconds left"), or nothing when it is too early to tell.
 */
export function etaWords(eta: Eta | null, progress: number, now: number): string {
  if (!eta || progress < FIRST_PROGRESS) return '';
  const seconds = remaining(eta, now);
  if (seconds < 5) return progress >= ALMOST_DONE_PROGRESS ? 'almost done' : 'a few seconds left';
  if (seconds < 60) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}
