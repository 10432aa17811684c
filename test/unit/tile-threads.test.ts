// TileThreads, the pool behind every tiled job on the wasm backend, with a real worker thread: calls beyond
// the number of threads wait their turn, and closing or cancelling the pool fails the waiting ones.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TileThreads } from '../../src/engine/core/tile-threads';
import { JobCancelledError } from '../../src/engine/core/progress';
import { REPO_ROOT } from '../helpers/paths';

const SLOW_ECHO = path.join(REPO_ROOT, 'test', 'fixtures', 'workers', 'slow-echo.mjs');
const SLOW_ECHO_PROCESS = path.join(REPO_ROOT, 'test', 'fixtures', 'workers', 'slow-echo-process.mjs');
const tile = (value: number) => ({ pixels: new Float32Array([value, value]) });

describe('TileThreads', () => {
  it('runs more calls than threads, each on its own tile, first come first served', async () => {
    const pool = new TileThreads(SLOW_ECHO, 1);
    const finished: number[] = [];
    const calls = [1, 2, 3].map((value) =>
      pool.run(tile(value)).then((pixels) => {
        finished.push(value);
        return Array.from(pixels);
      }),
    );
    expect(await Promise.all(calls)).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    expect(finished).toEqual([1, 2, 3]);
    await pool.close();
  });

  it('fails the waiting calls when closed, and as cancelled when its job is cancelled', async () => {
    const pool = new TileThreads(SLOW_ECHO, 1);
    const running = expect(pool.run(tile(1))).rejects.toThrow(/stopped/);
    const waiting = expect(pool.run(tile(2))).rejects.toThrow(/closed/);
    await pool.close();
    await Promise.all([running, waiting]);

    const controller = new AbortController();
    const cancelled = new TileThreads(SLOW_ECHO, 1, controller.signal);
    const first = expect(cancelled.run(tile(1))).rejects.toBeInstanceOf(JobCancelledError);
    const second = expect(cancelled.run(tile(2))).rejects.toBeInstanceOf(JobCancelledError);
    controller.abort();
    await Promise.all([first, second]);
    await expect(cancelled.run(tile(3))).rejects.toBeInstanceOf(JobCancelledError);
  });

  // The kind learned mode uses with onnxruntime, whose native run must not be stopped inside a thread.
  it('runs tiles on child processes, reports their failures and kills them at once on cancel', async () => {
    const pool = new TileThreads(SLOW_ECHO_PROCESS, 2, undefined, 10, 'process');
    expect(await Promise.all([1, 2, 3].map(async (v) => Array.from(await pool.run(tile(v)))))).toEqual([
      [11, 11],
      [12, 12],
      [13, 13],
    ]);
    await expect(pool.run(tile(-1))).rejects.toThrow('this tile fails');
    await pool.close();

    const controller = new AbortController();
    const cancelled = new TileThreads(SLOW_ECHO_PROCESS, 1, controller.signal, 1, 'process');
    expect(Array.from(await cancelled.run(tile(1)))).toEqual([2, 2]);
    const spinning = cancelled.run(tile(99));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const start = performance.now();
    controller.abort();
    await expect(spinning).rejects.toBeInstanceOf(JobCancelledError);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
