// Where jobs started from the UI may write: the app's workspace and the folders the user allowed (a
// native dialog in the desktop app, `--output-dir` for the web bridge). The EngineHost checks every
// write target of a job here before queueing it; the CLI runs the engine itself and is not limited.
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ApiError, type JobSpec } from '../common/api';
import { isInside } from '../engine/core/fs-atomic';

type TargetKind = 'file' | 'folder';

/** What the refusal tells the user to do, given the folder they wanted to write into. */
export type OutputHint = (folder: string) => string;

const DEFAULT_HINT: OutputHint = () => 'Choose a path inside one of them.';

export class OutputFolders {
  private readonly granted: string[] = [];

  constructor(
    private readonly workspaceDir: string,
    private readonly hint: OutputHint = DEFAULT_HINT,
  ) {}

  /** Allows writing into `dir` and everything below it, for the rest of this run. */
  grant(dir: string): void {
    const folder = path.resolve(dir);
    if (!this.granted.includes(folder)) this.granted.push(folder);
  }

  /** The workspace first, then the granted folders. */
  list(): string[] {
    return [path.resolve(this.workspaceDir), ...this.granted];
  }

  /**
   * The job with each write target replaced by its real location, or an ApiError saying why it may not
   * write there. The engine then writes exactly to the checked path (no `..`, no link to follow).
   */
  async allow(spec: JobSpec): Promise<JobSpec> {
    switch (spec.kind) {
      case 'deblur':
      case 'exportPhoto':
      case 'extractKernel':
      case 'applyKernel':
        return { ...spec, outputPath: await this.check(spec.outputPath, 'file') };
      case 'batch':
        return { ...spec, outDir: await this.check(spec.outDir, 'folder') };
      case 'speedTest':
        return spec;
    }
  }

  /** The real location of `target` if it lies inside an allowed folder (a folder may be one itself). */
  async check(target: string, kind: TargetKind): Promise<string> {
    if (!path.isAbsolute(target)) {
      throw new ApiError(`“${target}” is not a full path: give the whole path of the output ${kind}.`);
    }
    const real = await realLocation(target);
    const roots = await Promise.all(this.list().map((root) => realLocation(root).catch(() => null)));
    if (roots.some((root) => root !== null && isInside(root, real, kind === 'folder'))) return real;
    const folder = kind === 'folder' ? target : path.dirname(target);
    throw new ApiError(
      `Blurspace did not write “${target}”: it only writes into its workspace and the folders you ` +
        `allowed, and this ${kind} is outside them (allowed now: ${this.list().join(', ')}). ` +
        this.hint(folder),
    );
  }
}

/**
 * Where writing `target` really lands: the deepest part that exists with its links resolved (as the file
 * system spells it), then the parts still to be created. A link that leads nowhere is refused.
 */
export async function realLocation(target: string): Promise<string> {
  const missing: string[] = [];
  for (let current = target; ;) {
    try {
      return path.join(await realpath(current), ...missing);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = path.dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) {
        throw new ApiError(`Cannot tell where “${target}” leads (${code ?? String(error)}).`);
      }
      if (
        await lstat(current).then(
          () => true,
          () => false,
        )
      ) {
        throw new ApiError(`“${current}” is a link to something that does not exist: choose another path.`);
      }
      missing.unshift(path.basename(current));
      current = parent;
    }
  }
}
