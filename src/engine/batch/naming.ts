// Where each result of a batch goes: the naming template, and conflicts with files already there.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ConflictPolicy } from '../../common/api';

const TOKENS = new Set(['name', 'preset', 'date', 'n']);

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
