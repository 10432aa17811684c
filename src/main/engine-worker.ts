// Worker-thread entry: runs the engine off the main thread and speaks the worker protocol.
import { parentPort, workerData } from 'node:worker_threads';
import type { CallParams } from '../common/api';
import { Engine } from '../engine/engine';
import { JobCancelledError } from '../engine/jobs/progress';
import { DEFAULT_CHECKPOINT } from './paths';
import type { HostToWorker, WorkerData, WorkerToHost } from './worker-protocol';

const port = parentPort!;
const post = (message: WorkerToHost): void => port.postMessage(message);
const running = new Map<string, AbortController>();

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function handle(engine: Engine, message: HostToWorker): Promise<void> {
  switch (message.type) {
    case 'call': {
      try {
        const value =
          message.method === 'info'
            ? engine.info()
            : message.method === 'photoRegion'
              ? await engine.photoRegion(message.params as CallParams<'photoRegion'>)
              : await engine.openPhoto((message.params as { path: string }).path);
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
        const cancelled = error instanceof JobCancelledError;
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
  });
  port.on('message', (message: HostToWorker) => void handle(engine, message));
  post({ type: 'ready', info: engine.info() });
} catch (error) {
  post({ type: 'initFailed', error: describe(error) });
}
