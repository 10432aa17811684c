// The batch queue on disk: one JSON file in the output folder, replaced atomically after every change, so
// a batch killed at any moment can be resumed by running the same command again.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { BatchItemStatus, BatchJobSpec, Reliability, type BatchCounts } from '../../common/api';
import { writeFileAtomic } from '../core/fs-atomic';

export const MANIFEST_FILE = '.blurspace-batch.json';
export const MANIFEST_FORMAT = 'blurspace-batch';
export const MANIFEST_VERSION = 1;

const ManifestItem = z
  .object({
    /** The input file (absolute). */
    input: z.string(),
    /** Its real path: the identity used for de-duplication. */
    key: z.string(),
    /** The result, relative to the output folder. */
    output: z.string(),
    status: BatchItemStatus,
    reason: z.string().optional(),
    /**
     * Deblur preset, done items: how far the blur estimate could be trusted (the deblur job's note), e.g.
     * that the photo was written unchanged because the blur could not be estimated.
     */
    note: z.string().optional(),
    /** Deblur preset: the result is the photo unchanged (re-encoded with the output options). */
    unchanged: z.boolean().optional(),
    /** Deblur preset, done items: the verdict on the blur estimate. */
    reliability: Reliability.optional(),
  })
  .strict();
export type ManifestItem = z.infer<typeof ManifestItem>;

const Manifest = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    version: z.literal(MANIFEST_VERSION),
    /** What decides an item's result (preset, output options, naming); items are reused only when it matches. */
    settings: z.string(),
    /** The {date} of the batch, kept so a resumed batch names its results the same way. */
    date: z.string(),
    items: z.array(ManifestItem),
    /** Every result a batch ever wrote here (relative paths): the only files --on-conflict overwrite replaces. */
    outputs: z.array(z.string()),
    /**
     * The batch as last started (absolute paths), so the app can offer to resume a paused batch after a
     * restart; absent once the batch is discarded (`forgetBatchSpec`).
     */
    spec: BatchJobSpec.omit({ kind: true }).strict().optional(),
    /** How many items at the head of `items` belong to the last run (the rest are from earlier inputs). */
    current: z.number().int().min(0).optional(),
  })
  .strict();
export type Manifest = z.infer<typeof Manifest>;

/** Counts of items by status. */
export function countItems(items: readonly ManifestItem[]): BatchCounts {
  const counts = { total: items.length, pending: 0, done: 0, failed: 0, skipped: 0 };
  for (const item of items) counts[item.status]++;
  return counts;
}

/** Counts of a manifest's current items (the items of the last run; older ones are kept for their names). */
export function manifestCounts(manifest: Manifest): BatchCounts {
  return countItems(
    manifest.current === undefined ? manifest.items : manifest.items.slice(0, manifest.current),
  );
}

export async function loadManifest(outDir: string): Promise<Manifest | null> {
  const file = path.join(outDir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `'${file}' is not a batch manifest this version of Blurspace understands. Move it away to start ` +
        'the batch over (results already in the folder are then treated as foreign files).',
    );
  }
  return parsed.data;
}

/** Serialises saves: the last call's state is what ends up on disk. */
export function manifestWriter(outDir: string): (manifest: Manifest) => Promise<void> {
  const file = path.join(outDir, MANIFEST_FILE);
  let chain: Promise<void> = Promise.resolve();
  return (manifest) => {
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    chain = chain.then(() => writeFileAtomic(file, text));
    return chain;
  };
}

/** Forgets how to resume the batch in `outDir` (its items and results stay known); false if none. */
export async function forgetBatchSpec(outDir: string): Promise<boolean> {
  const manifest = await loadManifest(outDir);
  if (!manifest?.spec) return false;
  delete manifest.spec;
  await manifestWriter(outDir)(manifest);
  return true;
}
