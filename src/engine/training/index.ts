export { makeBatch, makePair, pickKind, PAIR_KINDS, trainingData } from './data';
export type {
  Batch,
  BatchOptions,
  DataSourceOptions,
  PairInfo,
  PairKind,
  PairOptions,
  TrainingPair,
} from './data';
export type { CaptureOptions, CaptureParams } from './capture';
export { writeContactSheet, type ContactSheetOptions } from './contact-sheet';
export {
  correlate,
  kernelCentre,
  kernelToPsf,
  loadKernels,
  shakeKernel,
  transformKernel,
  type Kernel,
} from './kernels';
export { Rng } from '../core/rng';
export { clearSourceCache, listSources, setSourceCacheLimit, type SourceList, type Split } from './sources';
