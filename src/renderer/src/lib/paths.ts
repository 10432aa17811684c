// File-name helpers for paths that come from the engine's machine (either separator).
import type { CallResult } from '../../../common/api';
import { FORMAT_EXTENSIONS, type OutputFormat } from '../../../common/formats';

export function splitPath(path: string): { dir: string; stem: string; ext: string; sep: string } {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const sep = cut >= 0 ? path[cut] : '/';
  const name = path.slice(cut + 1);
  const dot = name.lastIndexOf('.');
  return {
    dir: cut >= 0 ? path.slice(0, cut) : '',
    stem: dot > 0 ? name.slice(0, dot) : name,
    ext: dot > 0 ? name.slice(dot) : '',
    sep,
  };
}

/** `name` inside `dir`, with the separator `dir` already uses (the engine's machine may be Windows). */
export function joinPath(dir: string, name: string): string {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/** Where jobs may write (the `outputFolders` call): the workspace and the folders granted. */
export type OutputFolders = CallResult<'outputFolders'>;

/** A folder results may go to: the first granted folder, else `sub` in the workspace. */
export function defaultOutputFolder(outputs: OutputFolders, sub: string): string {
  return outputs.folders[0] ?? joinPath(outputs.workspace, sub);
}

/** In `folder` (an allowed output folder): the original's name, "-blurspace", the format's extension. */
export function defaultExportPath(originalPath: string, format: OutputFormat, folder: string): string {
  return joinPath(folder, `${splitPath(originalPath).stem}-blurspace${FORMAT_EXTENSIONS[format]}`);
}
