// Export: re-encode a photo (an original or a result) to the chosen file, format and metadata.
import { existsSync } from 'node:fs';
import type { JobResult, JobSpec } from '../../common/api';
import { readPhoto } from '../image';
import { writeResult } from './output';
import type { JobContext } from '../core/progress';

export async function runExportPhoto(
  spec: Extract<JobSpec, { kind: 'exportPhoto' }>,
  ctx: JobContext,
): Promise<JobResult> {
  if (spec.ifExists === 'keep' && existsSync(spec.outputPath)) {
    return { kind: 'exportPhoto', outputPath: spec.outputPath, written: false };
  }
  ctx.progress({ stage: 'reading', progress: 0 });
  const photo = await readPhoto(spec.sourcePath);
  ctx.progress({ stage: 'writing', progress: 0.5 });
  await writeResult(spec.outputPath, photo, photo.data, spec.output);
  return { kind: 'exportPhoto', outputPath: spec.outputPath, written: true };
}
