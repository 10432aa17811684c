export { runBatchJob } from './batch-job';
export { MANIFEST_FILE, type Manifest, type ManifestItem } from './manifest';
export type { BatchContext, JobRunner } from './queue';
export { REPORT_JSON, REPORT_TEXT, type BatchItemReport, type BatchSummary } from './report';
export { runBatch } from './run-batch';
