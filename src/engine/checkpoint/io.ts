import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { CheckpointError } from './errors';

/** Reads a whole checkpoint file, turning file-system failures into CheckpointErrors. */
export async function readCheckpointBytes(path: string): Promise<Buffer> {
  const name = basename(path);
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new CheckpointError('not-a-checkpoint', `${name} is a folder, not a checkpoint file.`);
    }
    if (info.size === 0) {
      throw new CheckpointError(
        'empty',
        `The checkpoint file ${name} is empty (0 bytes); the download or copy probably failed. Download it again.`,
      );
    }
    return await readFile(path);
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new CheckpointError(
        'missing',
        `The checkpoint file ${path} does not exist. Check that it was not moved or renamed, or choose it again.`,
        { cause: error },
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CheckpointError(
        'unreadable',
        `Blurspace is not allowed to read the checkpoint file ${path}. Check its permissions.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Runs a parser on a file's bytes and prefixes its errors with the file name. */
export function withFileName<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CheckpointError) {
      throw new CheckpointError(error.reason, `Cannot load ${basename(path)}. ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}
