export { PhotoError, type Photo, type PhotoErrorCode, type PhotoMetadata } from './photo';
export { DEFAULT_MAX_PIXELS, makePreview, readPhoto, type Preview, type ReadOptions } from './read';
export { writePhoto, type WriteOptions } from './write';
