// What a batch leaves to read when it ends: the summary the job returns, and the same as
// batch-report.json and a readable batch-report.txt in the output folder.
import path from 'node:path';
import type { BatchCounts, BatchItem, Reliability } from '../../common/api';
import { count } from '../../common/words';
import { writeFileAtomic } from '../core/fs-atomic';
import { countItems, type ManifestItem } from './manifest';

export const REPORT_JSON = 'batch-report.json';
export const REPORT_TEXT = 'batch-report.txt';

export interface BatchItemReport extends BatchItem {
  /** Deblur preset: how far the blur estimate could be trusted (see ManifestItem). */
  note?: string;
  /** Deblur preset: written unchanged, the blur could not be estimated. */
  unchanged?: boolean;
  /** Deblur preset: the verdict on the blur estimate. */
  reliability?: Reliability;
}

export interface BatchSummary {
  outDir: string;
  counts: BatchCounts;
  items: BatchItemReport[];
  cancelled: boolean;
}

export function summarise(outDir: string, items: ManifestItem[], cancelled: boolean): BatchSummary {
  return {
    outDir,
    counts: countItems(items),
    items: items.map((item) => ({
      input: item.input,
      // Inputs may be uploads in temporary folders: the name the user knows, placed as its result is.
      name: path.join(path.dirname(item.output), path.basename(item.input)),
      output: path.resolve(outDir, item.output),
      status: item.status,
      ...(item.reason && { reason: item.reason }),
      ...(item.note && { note: item.note }),
      ...(item.unchanged && { unchanged: true }),
      ...(item.reliability && { reliability: item.reliability }),
    })),
    cancelled,
  };
}

function renderText(summary: BatchSummary, preset: string): string {
  const { counts } = summary;
  const unchanged = summary.items.filter((item) => item.status === 'done' && item.unchanged).length;
  const lines = [
    `Blurspace batch (${preset}) into ${summary.outDir}`,
    `${count(counts.total, 'photo')}: ${counts.done} done` +
      (unchanged ? ` (${unchanged} written unchanged: the blur could not be estimated)` : '') +
      `, ${counts.failed} failed, ${counts.skipped} skipped` +
      (counts.pending ? `, ${counts.pending} not done yet (run the same command again to resume)` : ''),
    '',
  ];
  for (const item of summary.items) {
    const to = item.status === 'done' ? ` -> ${path.relative(summary.outDir, item.output)}` : '';
    const why = item.reason ?? (item.status === 'done' ? item.note : undefined);
    lines.push(`${item.status.padEnd(7)} ${item.name}${to}${why ? `\n        ${why}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes both reports into the output folder (each atomically). */
export async function writeReports(summary: BatchSummary, preset: string): Promise<void> {
  const json = { preset, finishedAt: new Date().toISOString(), ...summary };
  await writeFileAtomic(path.join(summary.outDir, REPORT_JSON), `${JSON.stringify(json, null, 2)}\n`);
  await writeFileAtomic(path.join(summary.outDir, REPORT_TEXT), renderText(summary, preset));
}
