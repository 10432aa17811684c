// What a batch will do: which files the inputs name, and where each result goes (naming template,
// mirrored folders, conflicts with files already in the output folder).
import { existsSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ConflictPolicy, OutputOptions } from '../../common/api';
import { outputFormatFor } from '../jobs/output';

export const DEFAULT_NAME_TEMPLATE = '{name}-{preset}';
export type { ConflictPolicy };

/** Files a folder scan picks up (files named explicitly are always tried; the engine says what is wrong). */
export const IMAGE_EXTENSIONS = new Set(
  (
    'jpg jpeg png tif tiff webp gif avif heic heif ' +
    'dng cr2 cr3 crw nef nrw arw srf sr2 raf orf rw2 pef srw x3f iiq 3fr erf kdc mrw mos rwl'
  )
    .split(' ')
    .map((ext) => `.${ext}`),
);
const FORMAT_EXTENSIONS = { jpeg: '.jpg', png: '.png', tiff: '.tif', webp: '.webp' } as const;
const TOKENS = new Set(['name', 'preset', 'date', 'n']);

export interface SourceFile {
  /** The path as found (absolute). */
  path: string;
  /** Identity for de-duplication and for refusing to write over an input: the real path. */
  key: string;
  /** Folder part of the output path, relative to the output folder (mirrors the input tree). */
  relativeDir: string;
  /** Set when the input cannot be read at all (missing, not a file or folder). */
  problem?: string;
}

export async function realOrResolved(file: string): Promise<string> {
  return realpath(file).catch(() => path.resolve(file));
}

/** Expands files and folders into a de-duplicated list; the output folder itself is never scanned. */
export async function collectInputs(
  inputs: string[],
  recursive: boolean,
  outDir: string,
  isKnownOutput: (key: string) => boolean,
): Promise<SourceFile[]> {
  const found: SourceFile[] = [];
  const seen = new Set<string>();
  const realOut = await realOrResolved(outDir);
  const add = (file: SourceFile): void => {
    if (seen.has(file.key)) return;
    seen.add(file.key);
    found.push(file);
  };
  const walk = async (root: string, dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // hidden files, our temp files
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!recursive) continue;
        const real = await realOrResolved(full);
        if (real === realOut || seen.has(`dir:${real}`)) continue;
        seen.add(`dir:${real}`);
        await walk(root, full);
      } else if (entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) {
        const key = await realOrResolved(full);
        if (isKnownOutput(key)) continue; // our own results when writing into an input folder
        add({ path: full, key, relativeDir: path.relative(root, dir) });
      }
    }
  };
  for (const input of inputs) {
    const full = path.resolve(input);
    const info = await stat(full).catch(() => null);
    const key = await realOrResolved(full);
    if (info?.isDirectory()) {
      seen.add(`dir:${key}`);
      await walk(full, full);
    } else {
      const problem = !info
        ? `Cannot find '${full}'.`
        : info.isFile()
          ? undefined
          : `'${full}' is neither a file nor a folder.`;
      add({ path: full, key, relativeDir: '', ...(problem && { problem }) });
    }
  }
  return found;
}

/** Checks a naming template: known {tokens} only, no folders. Throws a readable message. */
export function checkNameTemplate(template: string): void {
  for (const [, token] of template.matchAll(/\{([^}]*)\}/g)) {
    if (!TOKENS.has(token!)) {
      throw new Error(`Unknown "{${token}}" in the naming template: use {name}, {preset}, {date} and {n}.`);
    }
  }
  if (/[/\\]/.test(template) || template.includes('..') || template.trim() === '') {
    throw new Error(`The naming template "${template}" must be a plain file name (no folders, not empty).`);
  }
}

export function outputExtension(inputPath: string, format: OutputOptions['format']): string {
  if (format) return FORMAT_EXTENSIONS[format];
  try {
    outputFormatFor(inputPath);
    return path.extname(inputPath).toLowerCase();
  } catch {
    return '.png'; // GIF, AVIF, HEIC, RAW and unknown inputs: a lossless format we can write
  }
}

export function applyTemplate(
  template: string,
  values: { name: string; preset: string; date: string; n: string },
): string {
  return template.replace(/\{(name|preset|date|n)\}/g, (_, token: keyof typeof values) => values[token]);
}

/** `photo.jpg` -> `photo (2).jpg`, `photo (3).jpg`, ... until `taken` says no. */
export function uniqueName(target: string, taken: (candidate: string) => boolean): string {
  if (!taken(target)) return target;
  const { dir, name, ext } = path.parse(target);
  for (let i = 2; ; i++) {
    const candidate = path.join(dir, `${name} (${i})${ext}`);
    if (!taken(candidate)) return candidate;
  }
}

export type Placement =
  { output: string } | { output: string; skip: string } | { output: string; fail: string };

/**
 * Where a new item's result goes, given the conflict policy. `claimed` are outputs of other items in
 * this batch (always avoided), `ours` says whether an existing file is an earlier Blurspace output.
 */
export function placeOutput(
  target: string,
  policy: ConflictPolicy,
  claimed: Set<string>,
  ours: (file: string) => boolean,
): Placement {
  const inBatch = uniqueName(target, (candidate) => claimed.has(candidate));
  if (!existsSync(inBatch)) return { output: inBatch };
  switch (policy) {
    case 'skip':
      return { output: inBatch, skip: 'The output already exists (--on-conflict skip).' };
    case 'rename':
      return { output: uniqueName(inBatch, (candidate) => claimed.has(candidate) || existsSync(candidate)) };
    case 'overwrite':
      return ours(inBatch)
        ? { output: inBatch }
        : {
            output: inBatch,
            fail:
              `'${path.basename(inBatch)}' already exists and was not written by a Blurspace batch: ` +
              'it is left alone (choose another output folder, or --on-conflict rename).',
          };
  }
}
