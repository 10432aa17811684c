// The .blurkernel file: a blur extracted from one photo pair, reusable on other photos. It holds the
// code grid that F understands, which checkpoint made it, the source size, PSFs drawn from the code for
// display, and the PSFs measured from the pair itself (for display and for transfer without the model).
import fs from 'node:fs/promises';
import { z } from 'zod';
import { Reliability } from '../../common/api';
import { writeFileAtomic } from '../core/fs-atomic';
import { trimPsf, type Psf } from './psf';

export const KERNEL_FILE_FORMAT = 'blurspace-kernel';
export const KERNEL_FILE_VERSION = 1;
export const KERNEL_FILE_EXTENSION = '.blurkernel';

const PsfSchema = z.object({ size: z.number().int().positive(), weights: z.array(z.number()) });

/**
 * The PSFs measured from the pair by least squares (deblur/pair-kernel.ts), on `rows` x `cols` equal regions
 * of the source, row-major, each trimmed to its trace; with how far each can be trusted and the verdict.
 */
const ExplicitPsfSchema = z.object({
  rows: z.number().int().positive(),
  cols: z.number().int().positive(),
  cells: z.array(PsfSchema),
  /** Share of the blurry photo's detail each region's PSF explains, 0..1. */
  explained: z.array(z.number()),
  /** Regions whose PSF is doubtful (explains little, unlike its neighbours, or cut short). */
  doubtful: z.array(z.boolean()),
  reliability: Reliability,
  note: z.string(),
});
export type ExplicitPsf = z.infer<typeof ExplicitPsfSchema>;

export const KernelFileSchema = z.object({
  format: z.literal(KERNEL_FILE_FORMAT),
  version: z.literal(KERNEL_FILE_VERSION),
  name: z.string(),
  createdAt: z.string(),
  checkpoint: z.object({ sha256: z.string(), description: z.string() }),
  source: z.object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    /** The sharp photo's file name; '' when there was none (see sharpStandIn). */
    sharp: z.string(),
    /** 'network': no sharp photo; the learned mode's network's restoration of the blurry one stood in. */
    sharpStandIn: z.literal('network').optional(),
    blurry: z.string(),
    /** Global shift of the blurry photo that was corrected before extraction, in pixels. */
    shift: z.object({ x: z.number(), y: z.number() }),
  }),
  /** The code grid: one code per 128x128 cell of the (padded) source, row-major. */
  grid: z.object({ rows: z.number().int().positive(), cols: z.number().int().positive(), cell: z.number() }),
  kernelDim: z.number().int().positive(),
  /** Base64 of little-endian float32, rows x cols x kernelDim. */
  codes: z.string(),
  /** PSFs for display on a coarse grid over the source (each the average blur of its region). */
  psf: z.object({ rows: z.number().int(), cols: z.number().int(), cells: z.array(PsfSchema) }),
  /** Files written before PSFs were measured from the pair have none: they transfer with the code only. */
  explicitPsf: ExplicitPsfSchema.nullable().default(null),
});
export type KernelFile = z.infer<typeof KernelFileSchema>;

/** A PSF as stored: trimmed to its non-zero taps, weights to 6 significant digits. */
export function compactPsf(psf: Psf): Psf {
  const trimmed = trimPsf(psf);
  return { size: trimmed.size, weights: trimmed.weights.map((w) => Number(w.toPrecision(6))) };
}

export function encodeCodes(codes: Float32Array): string {
  return Buffer.from(codes.buffer, codes.byteOffset, codes.byteLength).toString('base64');
}

export function decodeCodes(file: KernelFile): Float32Array {
  const bytes = Buffer.from(file.codes, 'base64');
  const expected = file.grid.rows * file.grid.cols * file.kernelDim;
  if (bytes.byteLength !== expected * 4) {
    throw new KernelFileError(`holds ${bytes.byteLength / 4} code values where its grid needs ${expected}`);
  }
  const codes = new Float32Array(expected);
  new Uint8Array(codes.buffer).set(bytes);
  return codes;
}

export class KernelFileError extends Error {}

export async function saveKernelFile(path: string, kernel: KernelFile): Promise<void> {
  // Never write a file that would not load back (a NaN, for one, would turn into null).
  await writeFileAtomic(path, JSON.stringify(KernelFileSchema.parse(kernel)));
}

/** The first few problems only: a damaged file can have thousands. */
function describeIssues(error: z.ZodError): string {
  const shown = new z.ZodError(error.issues.slice(0, 3));
  const more = error.issues.length - 3;
  return z.prettifyError(shown) + (more > 0 ? `\n(and ${more} more problems)` : '');
}

export async function loadKernelFile(path: string): Promise<KernelFile> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (error) {
    throw new KernelFileError(`Cannot read the kernel file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KernelFileError(`${path} is not a Blurspace kernel file (it is not JSON).`);
  }
  const result = KernelFileSchema.safeParse(parsed);
  if (!result.success) {
    const format = (parsed as { format?: unknown; version?: unknown } | null)?.format;
    const version = (parsed as { version?: unknown } | null)?.version;
    if (format === KERNEL_FILE_FORMAT && version !== KERNEL_FILE_VERSION) {
      throw new KernelFileError(
        `${path} is a kernel file of version ${String(version)}; this Blurspace reads version ${KERNEL_FILE_VERSION}.`,
      );
    }
    throw new KernelFileError(
      `${path} is not a valid Blurspace kernel file: ${describeIssues(result.error)}`,
    );
  }
  try {
    decodeCodes(result.data);
  } catch (error) {
    throw new KernelFileError(`${path} is damaged: it ${(error as Error).message}.`);
  }
  return result.data;
}
