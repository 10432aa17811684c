// Running a batch's pending items: each through the engine job a single photo would use, a few at a time,
// the manifest saved after each so that finished work survives a crash, a kill or a cancel.
import { existsSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type {
  BatchItemProgress,
  BatchPreset,
  BatchSpec,
  JobResult,
  JobSpec,
  OutputOptions,
} from '../../common/api';
import { isInside, replacesInput } from '../core/fs-atomic';
import { JobCancelledError, type JobContext, type ProgressUpdate } from '../core/progress';
import type { ManifestItem } from './manifest';
import { REPLACES_INPUT, type BatchPlan } from './plan';

/** What runs each item's job: the engine, so an item is the same code as a single job. */
export interface JobRunner {
  runJob(
    spec: JobSpec,
    signal: AbortSignal,
    onProgress: (update: ProgressUpdate) => void,
  ): Promise<JobResult>;
}

export interface BatchContext extends JobContext {
  runner: JobRunner;
}

/**
 * The engine job for one item. Deblur is fast or learned mode: paper mode works on regions of at most 1 MP
 * and takes minutes to hours per photo, far too slow for batches.
 */
function jobFor(preset: BatchPreset, input: string, outputPath: string, output: OutputOptions): JobSpec {
  switch (preset.kind) {
    case 'export':
      // The batch settled conflicts with existing files by its own policy before this.
      return { kind: 'exportPhoto', sourcePath: input, outputPath, output, ifExists: 'replace' };
    case 'deblur':
      return {
        kind: 'deblur',
        mode: preset.mode,
        photoPath: input,
        outputPath,
        strength: preset.strength,
        learned: preset.mode === 'fast' && preset.learned,
        guided: preset.mode === 'fast' && preset.guided,
        priorWeight: 1,
        seed: 0,
        output,
      };
    case 'apply-kernel':
      return {
        kind: 'applyKernel',
        photoPath: input,
        kernelPath: path.resolve(preset.kernelPath),
        outputPath,
        mode: preset.mode,
        using: preset.using ?? 'encoded',
        output,
      };
  }
}

/** What an item's run leaves to remember beside its status. */
type ItemOutcome = Pick<ManifestItem, 'note' | 'unchanged' | 'reliability'>;

/** Runs one item's job into `outputPath` (written atomically by the job, as every result). */
async function runItemJob(
  spec: JobSpec,
  ctx: BatchContext,
  progress: (update: ProgressUpdate) => void,
): Promise<ItemOutcome> {
  const result = await ctx.runner.runJob(spec, ctx.signal, progress);
  if (result.kind !== 'deblur' || !result.estimate) return {};
  // A photo whose blur could not be estimated is still written (maybe unchanged): the item is done, with its note.
  const { note, changed, reliability } = result.estimate;
  return { note, reliability, ...(!changed && { unchanged: true }) };
}

/** Checks where an item's result goes, just before writing: inside OUTDIR, and never over an input. */
async function checkTarget(plan: BatchPlan, item: ManifestItem, outputPath: string): Promise<void> {
  await mkdir(path.dirname(outputPath), { recursive: true });
  // A mirrored sub-folder may already exist as a link: it must not lead the result out of OUTDIR.
  if (!isInside(plan.realOutDir, await realpath(path.dirname(outputPath)), true)) {
    throw new Error(
      `Its folder “${path.dirname(item.output)}” is a link that leads outside the output folder: ` +
        'nothing was written. Remove the link or choose another output folder.',
    );
  }
  // The last line of defence: whatever happened since planning, never write over an input.
  if (await replacesInput(outputPath, plan.inputKeys)) throw new Error(REPLACES_INPUT);
}

/**
 * Runs the plan's pending items, `options.jobs` at a time, until all are done or the batch is cancelled
 * (the items not reached stay pending). Progress is over the items run now; each update says which item.
 */
export async function runQueue(plan: BatchPlan, options: BatchSpec, ctx: BatchContext): Promise<void> {
  const { manifest, save } = plan;
  const queue = plan.items.filter((item) => item.status === 'pending');
  // Items are numbered over the whole batch: a resumed batch goes on from "photo 8 of 24".
  const doneBefore = plan.items.filter((item) => item.status === 'done').length;
  const total = doneBefore + queue.length;
  let finished = 0;
  let next = 0;
  const report = (index: number, item: ManifestItem, stage: string, fraction: number): void => {
    const at: BatchItemProgress = { index, total, name: path.basename(item.input), stage };
    ctx.progress({
      stage: `${at.index}/${at.total} ${at.name}: ${stage}`,
      progress: queue.length ? Math.min(1, (finished + fraction) / queue.length) : 1,
      item: at,
    });
  };

  const runItem = async (item: ManifestItem, index: number): Promise<void> => {
    const outputPath = path.resolve(plan.outDir, item.output);
    report(index, item, 'starting', 0);
    try {
      await checkTarget(plan, item, outputPath);
      if (!manifest.outputs.includes(item.output)) {
        // Recorded before writing, so a result of a killed run is known as ours.
        manifest.outputs.push(item.output);
        await save(manifest);
      }
      const spec = jobFor(options.preset, item.input, outputPath, options.output);
      const outcome = await runItemJob(spec, ctx, (u) => report(index, item, u.stage, u.progress));
      item.status = 'done';
      delete item.reason;
      delete item.note;
      delete item.unchanged;
      delete item.reliability;
      Object.assign(item, outcome);
    } catch (error) {
      if (error instanceof JobCancelledError || ctx.signal.aborted) return; // stays pending
      item.status = 'failed';
      item.reason = error instanceof Error ? error.message : String(error);
      delete item.note;
      delete item.unchanged;
      delete item.reliability;
      // Nothing was written: the name is not ours to overwrite later.
      if (!existsSync(outputPath)) manifest.outputs = manifest.outputs.filter((o) => o !== item.output);
    }
    finished++;
    report(index, item, item.status, 0);
    await save(manifest);
  };

  const worker = async (): Promise<void> => {
    while (next < queue.length && !ctx.signal.aborted) {
      const position = next++;
      await runItem(queue[position]!, doneBefore + position + 1);
    }
  };
  const jobs = Math.max(1, Math.min(options.jobs, queue.length || 1));
  await Promise.all(Array.from({ length: jobs }, worker));
  await save(manifest);
}
