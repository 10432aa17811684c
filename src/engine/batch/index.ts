export { runBatchJob } from './batch-job';
export { MANIFEST_FILE, type ItemStatus, type Manifest, type ManifestItem } from './manifest';
export { DEFAULT_NAME_TEMPLATE, type ConflictPolicy } from './plan';
export {
  REPORT_JSON,
  REPORT_TEXT,
  runBatch,
  type BatchContext,
  type BatchItemReport,
  type BatchOptions,
  type BatchPreset,
  type BatchSummary,
} from './run-batch';
