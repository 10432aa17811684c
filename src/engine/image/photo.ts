/** Everything needed to write a photo back the way it came in. Buffers are as sharp's metadata() gives them. */
export interface PhotoMetadata {
  exif?: Buffer;
  icc?: Buffer;
  xmp?: Buffer;
  iptc?: Buffer;
  /** sharp's name for the source colour space: 'srgb', 'rgb16', 'b-w', 'grey16', 'cmyk', ... */
  space: string;
  grayscale: boolean;
  /** EXIF orientation found in the source (1-8); already applied to the pixels, written back as 1. */
  orientation: number;
  /** Frames or pages in the source; above 1 means only the first of an animation or multi-page file was read. */
  pages: number;
  density?: number;
}

export interface Photo {
  width: number;
  height: number;
  channels: 3;
  /** Interleaved RGB in 0..1, sRGB gamma-encoded (converted from the photo's own profile). */
  data: Float32Array;
  /** Straight (not premultiplied) alpha in 0..1, one value per pixel. */
  alpha?: Float32Array;
  sourceBitDepth: 8 | 16;
  /** 'jpeg', 'png', 'tiff', 'webp', 'gif' or 'avif'. */
  sourceFormat: string;
  metadata: PhotoMetadata;
}

export type PhotoErrorCode =
  'not-found' | 'empty' | 'corrupt' | 'not-an-image' | 'unsupported' | 'too-large' | 'write-failed';

export class PhotoError extends Error {
  override readonly name = 'PhotoError';

  constructor(
    readonly code: PhotoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
