// The batch as an engine job (`JobSpec` kind 'batch'): the UI and the CLI start it like any other job.
import path from 'node:path';
import type { BatchJobSpec, BatchResult } from '../../common/api';
import type { JobContext } from '../core/progress';
import type { JobRunner } from './queue';
import { REPORT_TEXT } from './report';
import { runBatch } from './run-batch';

export async function runBatchJob(
  spec: BatchJobSpec,
  ctx: JobContext,
  runner: JobRunner,
): Promise<BatchResult> {
  const { kind: _kind, ...options } = spec;
  const summary = await runBatch(options, { ...ctx, runner });
  return {
    kind: 'batch',
    outDir: summary.outDir,
    reportPath: path.join(summary.outDir, REPORT_TEXT),
    counts: summary.counts,
    problems: summary.items
      .filter((item) => item.status !== 'done')
      .map(({ input, name, output, status, reason }) => ({
        input,
        name,
        output,
        status,
        ...(reason && { reason }),
      })),
    deblurred: summary.items.flatMap(({ status, name, output, reliability, unchanged, note }) =>
      status === 'done' && reliability
        ? [{ name, output, reliability, changed: !unchanged, note: note ?? '' }]
        : [],
    ),
  };
}
