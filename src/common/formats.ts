// Photo formats and file extensions, in one place for the engine, the CLI and the UI: which formats results
// are written in, which extension each gets, and which files count as photos. Plain data and string
// functions (no Node imports), so the renderer can use it too. Extensions are lower case with the dot.

/** The formats results can be written in. */
export const OUTPUT_FORMATS = ['jpeg', 'png', 'tiff', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The extension a result in each format gets. */
export const FORMAT_EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  jpeg: '.jpg',
  png: '.png',
  tiff: '.tif',
  webp: '.webp',
};

/** Every extension that names an output format, the usual one and its variants. */
const EXTENSION_FORMATS: Readonly<Record<string, OutputFormat>> = {
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.png': 'png',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.webp': 'webp',
};

/** Camera raw files: picked up as photos, so that reading one says why it cannot be opened. */
export const RAW_EXTENSIONS: ReadonlySet<string> = new Set(
  'dng cr2 cr3 crw nef nrw arw srf sr2 raf orf rw2 pef srw x3f iiq 3fr erf kdc mrw mos rwl'
    .split(' ')
    .map((ext) => `.${ext}`),
);

/** What a folder scan picks up as photos (files named explicitly are always tried). */
export const PHOTO_EXTENSIONS: ReadonlySet<string> = new Set([
  ...Object.keys(EXTENSION_FORMATS),
  ...['.gif', '.avif', '.heic', '.heif'],
  ...RAW_EXTENSIONS,
]);

/** The extension of a path's last part (either separator), lower case; '' for none or a hidden name. */
export function extensionOf(filePath: string): string {
  const name = filePath.slice(Math.max(filePath.lastIndexOf('/'), filePath.lastIndexOf('\\')) + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

/** The output format a file name asks for by its extension; undefined when it names none. */
export function formatOfPath(filePath: string): OutputFormat | undefined {
  return EXTENSION_FORMATS[extensionOf(filePath)];
}

export function isPhotoFile(filePath: string): boolean {
  return PHOTO_EXTENSIONS.has(extensionOf(filePath));
}

/**
 * The extension of a result made from `inputPath`: the requested format's, else the input's own when it is
 * a format we write, else PNG (lossless) for GIF, AVIF, HEIC, raw and unknown inputs.
 */
export function outputExtension(inputPath: string, format?: OutputFormat): string {
  if (format) return FORMAT_EXTENSIONS[format];
  return formatOfPath(inputPath) ? extensionOf(inputPath) : FORMAT_EXTENSIONS.png;
}
