// Running the engine from the command line: the engine with the user's settings, and engine work with a
// progress bar that Ctrl-C cancels cleanly.
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { BackendPreference, JobSpec, type JobResult, type JobSpecInput } from '../common/api';
import { preferenceFromEnvironment } from '../engine/core/backend';
import { JobCancelledError, jobContext, type JobContext, type ProgressUpdate } from '../engine/core/progress';
import { Engine } from '../engine/engine';
import { DEFAULT_CHECKPOINT, DEFAULT_RESTORER } from '../host/paths';
import { defaultConfigDir, SettingsStore } from '../host/settings';
import type { Values } from './command';
import { createProgressBar } from './progress-bar';

function savedSettings() {
  return SettingsStore.load(path.join(defaultConfigDir(), 'settings.json')).get();
}

export function backendPreference(values: Values): BackendPreference {
  return values.backend
    ? BackendPreference.parse(values.backend)
    : preferenceFromEnvironment(savedSettings().backend);
}

export async function createEngine(values: Values): Promise<Engine> {
  return Engine.create({
    backend: backendPreference(values),
    checkpointPath: values.checkpoint ? path.resolve(values.checkpoint) : savedSettings().checkpointPath,
    defaultCheckpointPath: DEFAULT_CHECKPOINT,
    restorerPath: DEFAULT_RESTORER,
  });
}

/** Runs one engine job with a progress bar; Ctrl-C cancels it cleanly. Loss terms go to `lossLog` (JSONL). */
export async function runJob(
  engine: Engine,
  input: JobSpecInput,
  quiet: boolean,
  lossLog?: string,
): Promise<JobResult> {
  const spec = JobSpec.parse(input);
  return withProgress(quiet, (signal, onProgress) => engine.runJob(spec, signal, onProgress), lossLog);
}

/** Runs engine work in a job context (progress bar, ETA); Ctrl-C cancels it cleanly. */
export function runTask<T>(quiet: boolean, work: (ctx: JobContext) => Promise<T>): Promise<T> {
  return withProgress(quiet, (signal, onProgress) => work(jobContext(signal, onProgress)));
}

async function withProgress<T>(
  quiet: boolean,
  work: (
    signal: AbortSignal,
    onProgress: (update: ProgressUpdate & { etaSeconds: number | null }) => void,
  ) => Promise<T>,
  lossLog?: string,
): Promise<T> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const bar = createProgressBar(quiet);
  const log = lossLog ? createWriteStream(lossLog) : null;
  try {
    return await work(controller.signal, (update) => {
      if (update.loss) log?.write(`${JSON.stringify(update.loss)}\n`);
      const detail = update.loss ? `loss ${update.loss.terms.total?.toFixed(5) ?? ''}` : undefined;
      bar.update({ ...update, detail });
    });
  } finally {
    bar.done();
    log?.end();
    process.off('SIGINT', onSigint);
  }
}

/** Ctrl-C in a command that writes file after file: says what stays, and resolves to null. */
export const cancelledPartway =
  (kept: string) =>
  (error: unknown): null => {
    if (!(error instanceof JobCancelledError)) throw error;
    console.error(`blurspace: cancelled; ${kept} are kept.`);
    return null;
  };
