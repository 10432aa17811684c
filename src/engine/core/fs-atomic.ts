// Writes that never leave a half-written file under the final name: temp file in the same folder,
// flushed, then renamed over the target. And the path test that keeps writes inside a chosen folder.
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
