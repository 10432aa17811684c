import { createHash } from 'node:crypto';
import { CheckpointError, corrupt } from './errors';
import { readCheckpointBytes, withFileName } from './io';
import { parsePth } from './pth';
import { parseSafetensors, writeSafetensors } from './safetensors';
import { ZIP_LOCAL_SIGNATURE } from './zip';
import type { StateDict } from './types';

export { CheckpointError, type CheckpointErrorReason } from './errors';
export { readSafetensors, writeSafetensors, type SafetensorsContents } from './safetensors';
export type { NamedTensor, StateDict } from './types';

export const BLURSPACE_FORMAT = 'blurspace-kernelwizard';
export const BLURSPACE_FORMAT_VERSION = '1';
/** The learned restorer's checkpoints: the same file layout, another network, so never loaded as F and G. */
export const BLURSPACE_RESTORER_FORMAT = 'blurspace-restorer';

export interface LoadedCheckpoint {
  /** 'blurspace': our safetensors with its model config; 'pytorch': the authors' .pth weights. */
  source: 'blurspace' | 'pytorch';
  tensors: StateDict;
  config?: unknown;
  training?: unknown;
  /** Hex SHA-256 of the file's bytes. */
  sha256: string;
}

const IMAGE_SIGNATURES: ReadonlyArray<[string, (b: Buffer) => boolean]> = [
  ['a JPEG image', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['a PNG image', (b) => b.toString('latin1', 0, 4) === '\x89PNG'],
  ['a TIFF or camera raw image', (b) => ['II*\0', 'MM\0*'].includes(b.toString('latin1', 0, 4))],
  ['a HEIF image or video', (b) => b.toString('latin1', 4, 8) === 'ftyp'],
  ['a GIF image', (b) => b.toString('latin1', 0, 4) === 'GIF8'],
  ['a PDF document', (b) => b.toString('latin1', 0, 4) === '%PDF'],
];

function describeOtherFile(buffer: Buffer): string {
  const known = IMAGE_SIGNATURES.find(([, matches]) => matches(buffer));
  if (known) return known[0];
  const sample = buffer.subarray(0, 1024);
  return sample.every((b) => b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d)
    ? 'a text file'
    : 'an unrecognised kind of file';
}

function parseJsonMetadata(metadata: Record<string, string>, key: string): unknown {
  if (metadata[key] === undefined) return undefined;
  try {
    return JSON.parse(metadata[key]);
  } catch (error) {
    throw corrupt(`its ${key} metadata is not valid JSON`, { cause: error });
  }
}

/** What each Blurspace format marker holds, for error messages. */
const NETWORK_OF_FORMAT: Record<string, string> = {
  [BLURSPACE_FORMAT]: 'a blur model (F and G)',
  [BLURSPACE_RESTORER_FORMAT]: 'a learned restorer',
};

function parseBlurspace(buffer: Buffer, sha256: string, expected = BLURSPACE_FORMAT): LoadedCheckpoint {
  const { tensors, metadata } = parseSafetensors(buffer);
  if (metadata.format !== expected) {
    const found = NETWORK_OF_FORMAT[metadata.format ?? ''];
    throw new CheckpointError(
      'unsupported',
      found
        ? `This Blurspace checkpoint holds ${found}, not ${NETWORK_OF_FORMAT[expected]}: choose another file.`
        : 'This safetensors file is not a Blurspace checkpoint (it lacks the Blurspace format marker). ' +
            'Choose a checkpoint saved by Blurspace or an original KernelWizard .pth file.',
    );
  }
  if (metadata.format_version !== BLURSPACE_FORMAT_VERSION) {
    throw new CheckpointError(
      'unsupported',
      `It was saved in Blurspace checkpoint format version ${metadata.format_version ?? '(none)'}, ` +
        `but this version of Blurspace reads version ${BLURSPACE_FORMAT_VERSION}. Update Blurspace to use it.`,
    );
  }
  const config = parseJsonMetadata(metadata, 'config');
  if (config === undefined) throw corrupt('its model config is missing');
  const training = parseJsonMetadata(metadata, 'training');
  return { source: 'blurspace', tensors, config, ...(training === undefined ? {} : { training }), sha256 };
}

function parseCheckpoint(buffer: Buffer, sha256: string): LoadedCheckpoint {
  // A zip (PyTorch >= 1.6) or a bare pickle (the legacy format of older versions).
  if ((buffer.length >= 4 && buffer.readUInt32LE(0) === ZIP_LOCAL_SIGNATURE) || buffer[0] === 0x80) {
    return { source: 'pytorch', tensors: parsePth(buffer), sha256 };
  }
  if (buffer.length >= 9 && buffer[8] === 0x7b && buffer.readUInt32LE(4) === 0) {
    return parseBlurspace(buffer, sha256);
  }
  throw new CheckpointError(
    'not-a-checkpoint',
    `This is not a model checkpoint but ${describeOtherFile(buffer)}. ` +
      'Choose a Blurspace .safetensors checkpoint or a KernelWizard .pth file.',
  );
}

/** Loads a Blurspace .safetensors or PyTorch .pth checkpoint; every failure is a CheckpointError. */
export async function loadCheckpointFile(path: string): Promise<LoadedCheckpoint> {
  const buffer = await readCheckpointBytes(path);
  const sha256 = createHash('sha256').update(buffer).digest('hex');
  return withFileName(path, () => parseCheckpoint(buffer, sha256));
}

/** Loads a learned restorer's checkpoint (`blurspace train` with task "restorer"); failures are CheckpointErrors. */
export async function loadRestorerCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const buffer = await readCheckpointBytes(path);
  const sha256 = createHash('sha256').update(buffer).digest('hex');
  return withFileName(path, () => parseBlurspace(buffer, sha256, BLURSPACE_RESTORER_FORMAT));
}

/** Saves weights with their model config (and optional training state) as a Blurspace checkpoint. */
export async function saveBlurspaceCheckpoint(
  path: string,
  tensors: StateDict,
  config: unknown,
  training?: unknown,
  format = BLURSPACE_FORMAT,
): Promise<void> {
  const metadata: Record<string, string> = {
    format,
    format_version: BLURSPACE_FORMAT_VERSION,
    config: JSON.stringify(config),
  };
  if (training !== undefined) metadata.training = JSON.stringify(training);
  await writeSafetensors(path, tensors, metadata);
}
