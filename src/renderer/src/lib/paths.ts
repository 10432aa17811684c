// File-name helpers for paths that come from the engine's machine (either separator).

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

export const EXTENSIONS = { jpeg: '.jpg', png: '.png', tiff: '.tif', webp: '.webp' } as const;
export type ExportFormat = keyof typeof EXTENSIONS;

/** Beside the original, with a "-blurspace" suffix and the chosen format's extension. */
export function defaultExportPath(originalPath: string, format: ExportFormat): string {
  const { dir, stem, sep } = splitPath(originalPath);
  return `${dir ? dir + sep : ''}${stem}-blurspace${EXTENSIONS[format]}`;
}
