// Writes that never leave a half-written file under the final name: temp file in the same folder,
// flushed, then renamed over the target. And the path tests around writes: inside a chosen folder, and
// never over an input unless asked.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export function tempPathFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPathFor(target);
  const file = await fs.open(temp, 'wx');
  try {
    await file.writeFile(data);
    await file.sync();
  } catch (error) {
    await file.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  await file.close();
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Whether `target` is below `root` (both real, absolute paths); `allowSame` also accepts `root` itself. */
export function isInside(root: string, target: string, allowSame: boolean): boolean {
  const relative = path.relative(root, target);
  if (relative === '') return allowSame;
  return relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/** A file's real path (links resolved), or its absolute path when it does not exist (yet). */
export async function realOrResolved(file: string): Promise<string> {
  return fs.realpath(file).catch(() => path.resolve(file));
}

/** The identities of files a job reads, for `replacesInput`. */
export async function inputKeys(files: Iterable<string>): Promise<Set<string>> {
  return new Set(await Promise.all([...files].map(realOrResolved)));
}

/** Whether writing `output` would replace one of the inputs (`keys` from `inputKeys`): the same real file. */
export async function replacesInput(output: string, keys: ReadonlySet<string>): Promise<boolean> {
  return keys.has(await realOrResolved(output));
}
