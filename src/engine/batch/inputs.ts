// What a batch's inputs name: files as given, folders scanned for photos (recursively when asked), each
// file once, the output folder never read back as input.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isPhotoFile } from '../../common/formats';
import { realOrResolved } from '../core/fs-atomic';

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
      } else if (entry.isFile() && isPhotoFile(entry.name)) {
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
