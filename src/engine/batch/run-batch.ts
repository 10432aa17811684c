// A batch: many photos through the same engine jobs as single ones, queued in a manifest in the output
// folder so that a crash, a kill or a cancel never loses finished work and never leaves a half-written
// result. Bad inputs fail their own item with a reason; the batch goes on. Deblur items keep the job's note
// on how far the blur estimate could be trusted.
import type { BatchSpec } from '../../common/api';
import { JobCancelledError } from '../core/progress';
import { planBatch } from './plan';
import { runQueue, type BatchContext } from './queue';
import { summarise, writeReports, type BatchSummary } from './report';

/** Runs (or resumes) a batch; per-item failures end up in the summary and the reports, never thrown. */
export async function runBatch(options: BatchSpec, ctx: BatchContext): Promise<BatchSummary> {
  const plan = await planBatch(options);
  await runQueue(plan, options, ctx);
  const summary = summarise(plan.outDir, plan.items, ctx.signal.aborted);
  await writeReports(summary, options.preset.kind);
  if (summary.cancelled) throw new JobCancelledError();
  return summary;
}
