// Messages between the engine host (main process or web bridge) and the engine worker thread.
import type {
  ApiCalls,
  CallOf,
  CallParsed,
  CallResult,
  EngineEvent,
  EngineInfo,
  JobSpec,
} from '../common/api';
import type { EngineOptions } from '../engine/engine';

/** The calls the worker answers: the contract's engine calls, and what only the host asks for. */
export type WorkerCalls = Pick<
  ApiCalls,
  'info' | 'openPhoto' | 'photoRegion' | 'previewDeblur' | 'openKernel' | 'exportKernel' | 'learnedEstimate'
> & {
  /** The host adds where in the workspace the copy goes (null: the file is there already). */
  importKernel: {
    params: CallParsed<'importKernel'> & { copyTo: string | null };
    result: CallResult<'importKernel'>;
  };
  /** Loads a checkpoint as a job would, so that the settings never name one the engine cannot use. */
  checkCheckpoint: { params: { path: string }; result: void };
};

export type HostToWorker =
  | ({ type: 'call'; id: number } & CallOf<WorkerCalls>)
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
