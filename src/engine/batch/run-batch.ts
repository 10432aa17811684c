// A batch: many photos through the same engine jobs as single ones, queued in a manifest in the output
// folder so that a crash, a kill or a cancel never loses finished work and never leaves a half-written
// result. Bad inputs fail their own item with a reason; the batch goes on. Deblur items keep the job's note
// on how far the blur estimate could be trusted.
import { existsSync } from 'node:fs';
import { access, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BatchPreset, JobSpec, OutputOptions } from '../../common/api';
import type { Engine } from '../engine';
import { isInside, writeFileAtomic } from '../core/fs-atomic';
import { JobCancelledError, type JobContext, type ProgressUpdate } from '../core/progress';
import {
  loadManifest,
  manifestWriter,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type ItemStatus,
  type Manifest,
  type ManifestItem,
} from './manifest';
import {
  applyTemplate,
  checkNameTemplate,
  collectInputs,
  DEFAULT_NAME_TEMPLATE,
  outputExtension,
  placeOutput,
  type ConflictPolicy,
} from './plan';

export const REPORT_JSON = 'batch-report.json';
export const REPORT_TEXT = 'batch-report.txt';

export type { BatchPreset };

export interface BatchOptions {
  /** Files and folders. */
  inputs: string[];
  /** Also take photos in sub-folders (the output tree mirrors the input tree). */
  recursive: boolean;
  outDir: string;
  preset: BatchPreset;
  output: OutputOptions;
  /** {name}, {preset}, {date} and {n}; default '{name}-{preset}'. The extension comes from the format. */
  nameTemplate?: string;
  onConflict: ConflictPolicy;
  /** Items run at the same time (default 1). */
  jobs?: number;
}

export interface BatchContext extends JobContext {
  /** Runs each item's job: the same code as a single job. */
  engine: Pick<Engine, 'runJob'>;
}

export interface BatchItemReport {
  input: string;
  /** Absolute path of the result. */
  output: string;
  status: ItemStatus;
  reason?: string;
  /** Deblur preset: how far the blur estimate could be trusted (see ManifestItem). */
  note?: string;
  /** Deblur preset: written unchanged, the blur could not be estimated. */
  unchanged?: boolean;
}

export interface BatchSummary {
  outDir: string;
  counts: Record<ItemStatus, number> & { total: number };
  items: BatchItemReport[];
  cancelled: boolean;
}

const presetName = (preset: BatchPreset): string => preset.kind;

function settingsKey(options: BatchOptions, template: string): string {
  const { preset, output } = options;
  return JSON.stringify({
    preset: preset.kind,
    ...(preset.kind === 'apply-kernel' && { kernel: path.resolve(preset.kernelPath), mode: preset.mode }),
    ...(preset.kind === 'deblur' && { strength: preset.strength, learned: preset.learned }),
    output: {
      format: output.format ?? null,
      bitDepth: output.bitDepth ?? null,
      quality: output.quality ?? null,
      keepMetadata: output.keepMetadata ?? true,
    },
    template,
  });
}

/**
 * The engine job for one item. Deblur is fast mode only: paper mode works on regions of at most 1 MP and
 * takes minutes to hours per photo, far too slow for batches.
 */
function jobFor(preset: BatchPreset, input: string, outputPath: string, output: OutputOptions): JobSpec {
  switch (preset.kind) {
    case 'export':
      // The batch settled conflicts with existing files by its own policy before this.
      return { kind: 'exportPhoto', sourcePath: input, outputPath, output, ifExists: 'replace' };
    case 'deblur':
      return {
        kind: 'deblur',
        mode: 'fast',
        photoPath: input,
        outputPath,
        strength: preset.strength,
        learned: preset.learned,
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
        output,
      };
  }
}

/** What an item's run leaves to remember beside its status. */
type ItemOutcome = Pick<ManifestItem, 'note' | 'unchanged'>;

/** Runs one item's job into `outputPath` (written atomically by the job, as every result). */
async function runItemJob(
  spec: JobSpec,
  ctx: BatchContext,
  progress: (update: ProgressUpdate) => void,
): Promise<ItemOutcome> {
  const result = await ctx.engine.runJob(spec, ctx.signal, progress);
  if (result.kind !== 'deblur' || !result.estimate) return {};
  // A photo whose blur could not be estimated is still written (maybe unchanged): the item is done, with its note.
  const { note, changed } = result.estimate;
  return { note, ...(!changed && { unchanged: true }) };
}

async function realOrResolved(file: string): Promise<string> {
  return realpath(file).catch(() => path.resolve(file));
}

/** Temp files left by a killed run: `.<name>.<random>.tmp` beside our results and our own files. */
async function removeStaleTemps(outDir: string, outputs: string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>([[outDir, new Set([MANIFEST_FILE, REPORT_JSON, REPORT_TEXT])]]);
  for (const output of outputs) {
    const dir = path.dirname(output);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(path.basename(output));
  }
  for (const [dir, names] of byDir) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) {
      if (!entry.startsWith('.') || !entry.endsWith('.tmp')) continue;
      const owner = [...names].some((name) => entry.startsWith(`.${name}.`));
      if (owner) await rm(path.join(dir, entry), { force: true });
    }
  }
}

function renderText(summary: BatchSummary, preset: string): string {
  const { counts } = summary;
  const unchanged = summary.items.filter((item) => item.status === 'done' && item.unchanged).length;
  const lines = [
    `Blurspace batch (${preset}) into ${summary.outDir}`,
    `${counts.total} photos: ${counts.done} done` +
      (unchanged ? ` (${unchanged} written unchanged: the blur could not be estimated)` : '') +
      `, ${counts.failed} failed, ${counts.skipped} skipped` +
      (counts.pending ? `, ${counts.pending} not done yet (run the same command again to resume)` : ''),
    '',
  ];
  for (const item of summary.items) {
    const to = item.status === 'done' ? ` -> ${path.relative(summary.outDir, item.output)}` : '';
    const why = item.reason ?? (item.status === 'done' ? item.note : undefined);
    lines.push(`${item.status.padEnd(7)} ${item.input}${to}${why ? `\n        ${why}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs (or resumes) a batch; per-item failures end up in the summary and the reports, never thrown. */
export async function runBatch(options: BatchOptions, ctx: BatchContext): Promise<BatchSummary> {
  const template = options.nameTemplate ?? DEFAULT_NAME_TEMPLATE;
  checkNameTemplate(template);
  if (options.preset.kind === 'apply-kernel') {
    const kernel = path.resolve(options.preset.kernelPath);
    await access(kernel).catch(() => {
      throw new Error(`Cannot find the kernel file '${kernel}'.`);
    });
  }
  const outDir = path.resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const settings = settingsKey(options, template);
  const previous = await loadManifest(outDir);
  const reuse = previous?.settings === settings;
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    settings,
    date: reuse ? previous.date : new Date().toISOString().slice(0, 10),
    items: reuse ? previous.items : [],
    outputs: previous?.outputs ?? [],
    spec: {
      ...options,
      inputs: options.inputs.map((input) => path.resolve(input)),
      recursive: options.recursive,
      outDir,
      preset:
        options.preset.kind === 'apply-kernel'
          ? { ...options.preset, kernelPath: path.resolve(options.preset.kernelPath) }
          : options.preset,
      nameTemplate: template,
      jobs: options.jobs ?? 1,
    },
  };
  const abs = (relative: string): string => path.resolve(outDir, relative);
  const realOutDir = await realpath(outDir);
  const ownedOutputs = new Set(manifest.outputs.map(abs));
  const save = manifestWriter(outDir);

  const sources = await collectInputs(options.inputs, options.recursive, outDir, (key) =>
    ownedOutputs.has(key),
  );
  const inputKeys = new Set(sources.map((source) => source.key));
  const byKey = new Map(manifest.items.map((item) => [item.key, item]));
  const claimed = new Set<string>();
  const items: ManifestItem[] = [];
  const width = String(sources.length).length;

  // Items from an earlier run keep their result path (no duplicates); new ones are placed now.
  for (const source of sources) {
    const known = byKey.get(source.key);
    if (known && (known.status === 'pending' || known.status === 'done')) {
      if (known.status === 'done' && !existsSync(abs(known.output))) known.status = 'pending';
      items.push(known);
      claimed.add(abs(known.output));
    }
  }
  for (const [index, source] of sources.entries()) {
    if (items.some((item) => item.key === source.key)) continue;
    const name = applyTemplate(template, {
      name: path.parse(source.path).name,
      preset: presetName(options.preset),
      date: manifest.date,
      n: String(index + 1).padStart(width, '0'),
    });
    const target = path.join(
      outDir,
      source.relativeDir,
      name + outputExtension(source.path, options.output.format),
    );
    const placed = placeOutput(target, options.onConflict, claimed, (file) => ownedOutputs.has(file));
    claimed.add(placed.output);
    const item: ManifestItem = {
      input: source.path,
      key: source.key,
      output: path.relative(outDir, placed.output),
      status: 'pending',
    };
    if (source.problem) Object.assign(item, { status: 'failed', reason: source.problem });
    else if (inputKeys.has(await realOrResolved(placed.output))) {
      Object.assign(item, {
        status: 'failed',
        reason: 'Its result would replace an input photo: choose another output folder or naming template.',
      });
    } else if ('skip' in placed) Object.assign(item, { status: 'skipped', reason: placed.skip });
    else if ('fail' in placed) Object.assign(item, { status: 'failed', reason: placed.fail });
    items.push(item);
  }
  // Keep the original order of the inputs in the queue and the report.
  const order = new Map(sources.map((source, index) => [source.key, index]));
  items.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
  const current = new Set(items.map((item) => item.key));
  manifest.items = [...items, ...manifest.items.filter((item) => !current.has(item.key))];
  manifest.current = items.length;
  await save(manifest);
  await removeStaleTemps(
    outDir,
    items.map((item) => abs(item.output)),
  );

  const queue = items.filter((item) => item.status === 'pending');
  // Items are numbered over the whole batch: a resumed batch goes on from "photo 8 of 24".
  const doneBefore = items.filter((item) => item.status === 'done').length;
  let finished = 0;
  let next = 0;
  const report = (label: string, stage: string, fraction: number): void =>
    ctx.progress({
      stage: `${label} ${stage}`,
      progress: queue.length ? Math.min(1, (finished + fraction) / queue.length) : 1,
    });

  const runItem = async (item: ManifestItem, position: number): Promise<void> => {
    const outputPath = abs(item.output);
    const label = `${doneBefore + position}/${doneBefore + queue.length} ${path.basename(item.input)}:`;
    report(label, 'starting', 0);
    try {
      await mkdir(path.dirname(outputPath), { recursive: true });
      // A mirrored sub-folder may already exist as a link: it must not lead the result out of OUTDIR.
      if (!isInside(realOutDir, await realpath(path.dirname(outputPath)), true)) {
        throw new Error(
          `Its folder “${path.dirname(item.output)}” is a link that leads outside the output folder: ` +
            'nothing was written. Remove the link or choose another output folder.',
        );
      }
      // The last line of defence: whatever happened since planning, never write over an input.
      if (inputKeys.has(await realOrResolved(outputPath))) {
        throw new Error(
          'Its result would replace an input photo: choose another output folder or naming template.',
        );
      }
      if (!manifest.outputs.includes(item.output)) {
        // Recorded before writing, so a result of a killed run is known as ours.
        manifest.outputs.push(item.output);
        await save(manifest);
      }
      const spec = jobFor(options.preset, item.input, outputPath, options.output);
      const outcome = await runItemJob(spec, ctx, (u) => report(label, u.stage, u.progress));
      item.status = 'done';
      delete item.reason;
      delete item.note;
      delete item.unchanged;
      Object.assign(item, outcome);
    } catch (error) {
      if (error instanceof JobCancelledError || ctx.signal.aborted) return; // stays pending
      item.status = 'failed';
      item.reason = error instanceof Error ? error.message : String(error);
      delete item.note;
      delete item.unchanged;
      // Nothing was written: the name is not ours to overwrite later.
      if (!existsSync(outputPath)) manifest.outputs = manifest.outputs.filter((o) => o !== item.output);
    }
    finished++;
    report(label, item.status, 0);
    await save(manifest);
  };

  const worker = async (): Promise<void> => {
    while (next < queue.length && !ctx.signal.aborted) {
      const index = next++;
      await runItem(queue[index]!, index + 1);
    }
  };
  const jobs = Math.max(1, Math.min(options.jobs ?? 1, queue.length || 1));
  await Promise.all(Array.from({ length: jobs }, worker));
  await save(manifest);

  const counts = { total: items.length, pending: 0, done: 0, failed: 0, skipped: 0 };
  for (const item of items) counts[item.status]++;
  const summary: BatchSummary = {
    outDir,
    counts,
    items: items.map((item) => ({
      input: item.input,
      output: abs(item.output),
      status: item.status,
      ...(item.reason && { reason: item.reason }),
      ...(item.note && { note: item.note }),
      ...(item.unchanged && { unchanged: true }),
    })),
    cancelled: ctx.signal.aborted,
  };
  await writeFileAtomic(
    path.join(outDir, REPORT_JSON),
    `${JSON.stringify({ preset: presetName(options.preset), finishedAt: new Date().toISOString(), ...summary }, null, 2)}\n`,
  );
  await writeFileAtomic(path.join(outDir, REPORT_TEXT), renderText(summary, presetName(options.preset)));
  if (summary.cancelled) throw new JobCancelledError();
  return summary;
}
