// The time left as the UI shows it: steady between the engine's wobbling estimates, honest near the start.
import { describe, expect, it } from 'vitest';
import { etaWords, nextEta, type Eta } from '../../src/common/eta';

describe('the ETA shown', () => {
  it('counts down steadily through estimates that wobble, and takes one that really changed', () => {
    // The engine's estimates, one a second, wobbling around a job that ends at t = 60 s.
    const reported = [60, 63, 55, 60, 52, 58, 50, 57, 49, 54];
    let eta: Eta | null = null;
    const shown: number[] = [];
    for (const [second, seconds] of reported.entries()) {
      eta = nextEta(eta, seconds - second, second * 1000);
      shown.push(eta!.seconds - (second * 1000 - eta!.at) / 1000);
    }
    // Never goes back up: each second shows one second less.
    for (let i = 1; i < shown.length; i++) expect(shown[i]).toBeCloseTo(shown[i - 1]! - 1, 6);
    // A new estimate far from the countdown (twice as long) is taken at once.
    const later = nextEta(eta, 100, 10_000)!;
    expect(later).toEqual({ seconds: 100, at: 10_000 });
    expect(nextEta(later, null, 11_000)).toBeNull();
  });

  it('says "almost done" only near the end of the work, and rounds what it says', () => {
    const eta: Eta = { seconds: 3, at: 0 };
    expect(etaWords(eta, 0.22, 0)).toBe('a few seconds left');
    expect(etaWords(eta, 0.95, 0)).toBe('almost done');
    expect(etaWords({ seconds: 43, at: 0 }, 0.5, 0)).toBe('about 45 s left');
    expect(etaWords({ seconds: 43, at: 0 }, 0.5, 10_000)).toBe('about 35 s left');
    expect(etaWords({ seconds: 200, at: 0 }, 0.1, 0)).toBe('about 3 min left');
    expect(etaWords(null, 0.5, 0)).toBe('');
    // Too early to extrapolate: nothing rather than a guess.
    expect(etaWords({ seconds: 360, at: 0 }, 0.01, 0)).toBe('');
  });
});
