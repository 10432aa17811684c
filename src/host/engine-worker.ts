// Worker-thread entry: runs the engine off the main thread and speaks the worker protocol.
import { parentPort, workerData } from 'node:worker_threads';
import { dispatch, type CallHandlers } from '../common/api';
import { Engine } from '../engine/engine';
import { JobCancelledError } from '../engine/core/progress';
import { DEFAULT_CHECKPOINT, DEFAULT_RESTORER } from './paths';
import type { HostToWorker, WorkerCalls, WorkerData, WorkerToHost } from './worker-protocol';

const port = parentPort!;
const post = (message: WorkerToHost): void => port.postMessage(message);
const running = new Map<string, AbortController>();

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function handlers(engine: Engine): CallHandlers<WorkerCalls> {
  return {
    info: () => engine.info(),
    photoRegion: (request) => engine.photoRegion(request),
    previewDeblur: (params) => engine.previewDeblur(params),
    learnedEstimate: ({ width, height }) => engine.learnedEstimate(width, height),
    openPhoto: ({ path }) => engine.openPhoto(path),
    importKernel: ({ path, copyTo }) => engine.importKernel(path, copyTo),
    openKernel: ({ path }) => engine.openKernel(path),
    exportKernel: ({ path, name }) => engine.exportKernel(path, name),
    checkCheckpoint: ({ path }) => engine.checkCheckpoint(path),
  };
}

async function handle(
  engine: Engine,
  answers: CallHandlers<WorkerCalls>,
  message: HostToWorker,
): Promise<void> {
  switch (message.type) {
    case 'call': {
      try {
        const value = await dispatch(answers, message);
        post({ type: 'result', id: message.id, ok: true, value });
      } catch (error) {
        post({ type: 'result', id: message.id, ok: false, error: describe(error) });
      }
      return;
    }
    case 'cancel':
      running.get(message.jobId)?.abort();
      return;
    case 'job': {
      const { jobId } = message;
      const controller = new AbortController();
      running.set(jobId, controller);
      try {
        const result = await engine.runJob(message.spec, controller.signal, (update) =>
          post({ type: 'event', event: { type: 'jobProgress', jobId, ...update } }),
        );
        post({ type: 'event', event: { type: 'jobDone', jobId, result } });
      } catch (error) {
        // Whatever a cancelled job threw on its way out, the user cancelled it.
        const cancelled = error instanceof JobCancelledError || controller.signal.aborted;
        post({ type: 'event', event: { type: 'jobFailed', jobId, error: describe(error), cancelled } });
      } finally {
        running.delete(jobId);
      }
    }
  }
}

try {
  const engine = await Engine.create({
    ...(workerData as WorkerData),
    defaultCheckpointPath: DEFAULT_CHECKPOINT,
    restorerPath: DEFAULT_RESTORER,
  });
  const answers = handlers(engine);
  port.on('message', (message: HostToWorker) => void handle(engine, answers, message));
  post({ type: 'ready', info: engine.info() });
} catch (error) {
  post({ type: 'initFailed', error: describe(error) });
}
