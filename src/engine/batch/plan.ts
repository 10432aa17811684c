// What a batch will do, settled before any photo is processed: the inputs found, where each result goes,
// and which items an earlier run of the same batch already finished. All of it is saved in the manifest.
import { existsSync } from 'node:fs';
import { access, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_NAME_TEMPLATE, type BatchSpec } from '../../common/api';
import { outputExtension } from '../../common/formats';
import { replacesInput } from '../core/fs-atomic';
import { collectInputs, type SourceFile } from './inputs';
import {
  loadManifest,
  manifestWriter,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestItem,
} from './manifest';
import { applyTemplate, checkNameTemplate, placeOutput } from './naming';
import { REPORT_JSON, REPORT_TEXT } from './report';

export const REPLACES_INPUT =
  'Its result would replace an input photo: choose another output folder or naming template.';

export interface BatchPlan {
  /** The output folder (absolute) and its real path. */
  outDir: string;
  realOutDir: string;
  manifest: Manifest;
  /** This run's items in input order, the ones to do still 'pending' (also the head of manifest.items). */
  items: ManifestItem[];
  /** The inputs' real paths: no result may replace one. */
  inputKeys: ReadonlySet<string>;
  /** Saves the manifest (atomically; saves never overtake each other). */
  save(manifest: Manifest): Promise<void>;
}

/** What decides an item's result (preset, output options, naming); items are reused only when it matches. */
function settingsKey(options: BatchSpec, template: string): string {
  const { preset, output } = options;
  return JSON.stringify({
    preset: preset.kind,
    ...(preset.kind === 'apply-kernel' && {
      kernel: path.resolve(preset.kernelPath),
      mode: preset.mode,
      // Only when set, so that batches from before measured PSFs still resume.
      ...(preset.using === 'explicit' && { using: preset.using }),
    }),
    // Fast mode's key is as it was before learned mode and the guided estimate existed, so that older
    // batches still resume.
    ...(preset.kind === 'deblur' && {
      strength: preset.strength,
      learned: preset.learned,
      ...(preset.mode !== 'fast' && { mode: preset.mode }),
      ...(preset.mode === 'fast' && preset.guided && { guided: true }),
    }),
    output: {
      format: output.format ?? null,
      bitDepth: output.bitDepth ?? null,
      quality: output.quality ?? null,
      keepMetadata: output.keepMetadata ?? true,
    },
    template,
  });
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

/** The manifest of this run: the earlier one's items and date when the settings are the same. */
async function startManifest(options: BatchSpec, outDir: string, template: string): Promise<Manifest> {
  const settings = settingsKey(options, template);
  const previous = await loadManifest(outDir);
  const reuse = previous?.settings === settings;
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    settings,
    date: reuse ? previous.date : new Date().toISOString().slice(0, 10),
    items: reuse ? previous.items : [],
    outputs: previous?.outputs ?? [],
    spec: {
      ...options,
      inputs: options.inputs.map((input) => path.resolve(input)),
      outDir,
      preset:
        options.preset.kind === 'apply-kernel'
          ? { ...options.preset, kernelPath: path.resolve(options.preset.kernelPath) }
          : options.preset,
      nameTemplate: template,
    },
  };
}

/** Checks what can be checked before reading any input: the naming template, the kernel file. */
async function checkOptions(options: BatchSpec, template: string): Promise<void> {
  checkNameTemplate(template);
  if (options.preset.kind === 'apply-kernel') {
    const kernel = path.resolve(options.preset.kernelPath);
    await access(kernel).catch(() => {
      throw new Error(`Cannot find the kernel file '${kernel}'.`);
    });
  }
}

/**
 * This run's items, in input order. Items from an earlier run keep their result path (no duplicates); new
 * ones are placed now, failed or skipped at once when their result cannot be written.
 */
async function placeItems(
  options: BatchSpec,
  template: string,
  manifest: Manifest,
  outDir: string,
  sources: SourceFile[],
): Promise<ManifestItem[]> {
  const abs = (relative: string): string => path.resolve(outDir, relative);
  const ownedOutputs = new Set(manifest.outputs.map(abs));
  const inputKeys = new Set(sources.map((source) => source.key));
  const byKey = new Map(manifest.items.map((item) => [item.key, item]));
  const claimed = new Set<string>();
  const items: ManifestItem[] = [];
  const width = String(sources.length).length;

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
      preset: options.preset.kind,
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
    else if (await replacesInput(placed.output, inputKeys)) {
      Object.assign(item, { status: 'failed', reason: REPLACES_INPUT });
    } else if ('skip' in placed) Object.assign(item, { status: 'skipped', reason: placed.skip });
    else if ('fail' in placed) Object.assign(item, { status: 'failed', reason: placed.fail });
    items.push(item);
  }
  const order = new Map(sources.map((source, index) => [source.key, index]));
  return items.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
}

/**
 * Checks the options, finds the inputs and places every result; saves the manifest and removes temp files
 * a killed run left. Inputs that cannot be done (missing, a conflict) are items failed or skipped already.
 */
export async function planBatch(options: BatchSpec): Promise<BatchPlan> {
  const template = options.nameTemplate ?? DEFAULT_NAME_TEMPLATE;
  await checkOptions(options, template);
  const outDir = path.resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const manifest = await startManifest(options, outDir, template);
  const owned = new Set(manifest.outputs.map((output) => path.resolve(outDir, output)));
  const sources = await collectInputs(options.inputs, options.recursive, outDir, (key) => owned.has(key));
  const items = await placeItems(options, template, manifest, outDir, sources);
  const current = new Set(items.map((item) => item.key));
  manifest.items = [...items, ...manifest.items.filter((item) => !current.has(item.key))];
  manifest.current = items.length;
  const save = manifestWriter(outDir);
  await save(manifest);
  await removeStaleTemps(
    outDir,
    items.map((item) => path.resolve(outDir, item.output)),
  );
  return {
    outDir,
    realOutDir: await realpath(outDir),
    manifest,
    items,
    inputKeys: new Set(sources.map((source) => source.key)),
    save,
  };
}
