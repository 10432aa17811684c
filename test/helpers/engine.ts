import os from 'node:os';
import path from 'node:path';
import type { EngineEvent } from '../../src/common/api';
import { EngineHost, type EngineHostOptions } from '../../src/host/engine-host';
import { SettingsStore } from '../../src/host/settings';
import { BUILT_WORKER } from './paths';

export const TEST_WORKSPACE = path.join(os.tmpdir(), `blurspace-test-workspace-${process.pid}`);

/** A real engine host on the built worker, with in-memory settings and the wasm backend. */
export function startTestEngine(options: Partial<EngineHostOptions> = {}): EngineHost {
  return new EngineHost({
    workerPath: BUILT_WORKER,
    settings: SettingsStore.load(null),
    workspaceDir: TEST_WORKSPACE,
    ...options,
  });
}

/** Resolves with the first event matching `predicate`. */
export function nextEvent<E extends EngineEvent>(
  engine: EngineHost,
  predicate: (event: EngineEvent) => event is E,
): Promise<E> {
  return new Promise((resolve) => {
    const stop = engine.onEvent((event) => {
      if (predicate(event)) {
        stop();
        resolve(event);
      }
    });
  });
}

export const jobEnded =
  (jobId: string) =>
  (event: EngineEvent): event is Extract<EngineEvent, { type: 'jobDone' | 'jobFailed' }> =>
    (event.type === 'jobDone' || event.type === 'jobFailed') && event.jobId === jobId;
