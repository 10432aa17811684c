// Messages between the engine host (main process or web bridge) and the engine worker thread.
import type { EngineEvent, EngineInfo, JobSpec } from '../common/api';
import type { EngineOptions } from '../engine/engine';

export type WorkerCallName =
  'info' | 'openPhoto' | 'photoRegion' | 'importKernel' | 'openKernel' | 'exportKernel';

/** importKernel as the worker gets it: the host adds where in the workspace the copy goes (or null). */
export interface WorkerImportKernel {
  path: string;
  copyTo: string | null;
}

export type HostToWorker =
  | { type: 'call'; id: number; method: WorkerCallName; params: unknown }
  | { type: 'job'; jobId: string; spec: JobSpec }
  | { type: 'cancel'; jobId: string };

export type WorkerToHost =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'initFailed'; error: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: string }
  | { type: 'event'; event: EngineEvent };

/** The worker adds the shipped checkpoints' locations itself. */
export type WorkerData = Omit<EngineOptions, 'defaultCheckpointPath' | 'restorerPath'>;
