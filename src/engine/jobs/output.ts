// Where and how a job writes its photo: format from the request or the file extension, metadata and
// bit depth kept from the source unless asked otherwise.
import path from 'node:path';
import type { OutputOptions } from '../../common/api';
import { formatOfPath, type OutputFormat } from '../../common/formats';
import { writePhoto, type Photo } from '../image';

export function outputFormatFor(outputPath: string, requested?: OutputFormat): OutputFormat {
  if (requested) return requested;
  const format = formatOfPath(outputPath);
  if (!format) {
    throw new Error(
      `Cannot tell the output format from "${path.basename(outputPath)}": use .jpg, .png, .tif or .webp, ` +
        'or choose a format.',
    );
  }
  return format;
}

export async function writeResult(
  outputPath: string,
  source: Photo,
  pixels: Float32Array,
  options: OutputOptions = {},
): Promise<void> {
  await writePhoto(
    outputPath,
    { ...source, data: pixels },
    {
      format: outputFormatFor(outputPath, options.format),
      bitDepth: options.bitDepth,
      quality: options.quality,
      keepMetadata: options.keepMetadata,
    },
  );
}
