// The one API contract between the UI (renderer), its transports (Electron IPC, web bridge) and the
// engine host. Every call and event is declared here once, with a schema that is checked at runtime
// wherever a message crosses a trust boundary.
import { z } from 'zod';
import { OUTPUT_FORMATS } from './formats';

export const BackendName = z.enum(['tensorflow', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendName>;

export const BackendPreference = z.enum(['auto', 'gpu', 'wasm', 'cpu']);
export type BackendPreference = z.infer<typeof BackendPreference>;

export const EngineInfo = z.object({
  backend: BackendName,
  device: z.string(),
  gpu: z.boolean(),
  backendNote: z.string(),
  versions: z.record(z.string(), z.string()),
  checkpoint: z.object({ path: z.string().nullable(), description: z.string() }),
  /**
   * Learned mode's network, which also serves fast mode's guided estimate and kernels read from a blurry
   * photo alone: whether it is installed, and what it is (or how to install it).
   */
  learnedNetwork: z.object({ available: z.boolean(), note: z.string() }),
});
export type EngineInfo = z.infer<typeof EngineInfo>;

/** Side of the tiles the engine cuts large photos into; 'auto' lets each operation pick its own. */
export const TileSize = z.union([z.literal('auto'), z.literal(512), z.literal(1024), z.literal(2048)]);
export type TileSize = z.infer<typeof TileSize>;

export const Settings = z.object({
  backend: BackendPreference,
  checkpointPath: z.string().nullable(),
  /** Smaller tiles use less memory and run slower. */
  tileSize: TileSize,
});
export type Settings = z.infer<typeof Settings>;
export const DEFAULT_SETTINGS: Settings = { backend: 'auto', checkpointPath: null, tileSize: 'auto' };

export const PhotoPreview = z.object({
  path: z.string(),
  name: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  format: z.string(),
  previewDataUrl: z.string(),
});
export type PhotoPreview = z.infer<typeof PhotoPreview>;

const FilePath = z.string().min(1).max(4096);

/** A file-type choice in a native save dialog. */
const DialogFilter = z.object({
  name: z.string().min(1).max(100),
  extensions: z
    .array(z.string().regex(/^([a-z0-9]{1,10}|\*)$/i))
    .min(1)
    .max(20),
});

export const OutputOptions = z.object({
  format: z.enum(OUTPUT_FORMATS).optional(),
  bitDepth: z.union([z.literal(8), z.literal(16)]).optional(),
  quality: z.number().int().min(1).max(100).optional(),
  keepMetadata: z.boolean().optional(),
});
export type OutputOptions = z.infer<typeof OutputOptions>;

export const KernelSummary = z.object({
  kernelPath: FilePath,
  name: z.string(),
  grid: z.object({ rows: z.number().int(), cols: z.number().int() }),
  source: z.object({
    width: z.number().int(),
    height: z.number().int(),
    /** Set when there was no sharp photo: the network's restoration stood in for it. */
    sharpStandIn: z.literal('network').optional(),
  }),
  /** The blur trace picture (PNG data URL). */
  traceDataUrl: z.string(),
  /** The display grid of PSFs (at most 6 x 6 regions over the source; see the kernel file's `psf`). */
  psfGrid: z.object({
    rows: z.number().int(),
    cols: z.number().int(),
    /** Each PSF's region in source pixels, row-major. */
    regions: z.array(z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })),
  }),
  /**
   * The display PSFs as one sprite (PNG data URL, RGBA): `psfGrid.cols` x `psfGrid.rows` square glyphs,
   * white with the PSF as alpha, row-major, for drawing over a photo.
   */
  glyphsDataUrl: z.string(),
  /** The model that read this kernel (kernels only work with that model). */
  checkpoint: z.string(),
  /**
   * The PSFs measured from the pair itself, one per region of an equal grid over the source (null for
   * kernel files made before they were stored): drawn like the code's, with how far they can be trusted.
   */
  explicit: z
    .object({
      traceDataUrl: z.string(),
      glyphsDataUrl: z.string(),
      psfGrid: z.object({
        rows: z.number().int(),
        cols: z.number().int(),
        regions: z.array(z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })),
      }),
      /** Per region, row-major: the share of the blurry photo's detail its PSF explains, 0..1. */
      explained: z.array(z.number()),
      /** Per region, row-major: its PSF explains little of the blurry photo or disagrees with its neighbours. */
      doubtful: z.array(z.boolean()),
      /** As fast mode's `Reliability`. */
      reliability: z.enum(['reliable', 'uncertain', 'failed']),
      /** The verdict in words: the blur's length and direction, or what went wrong. */
      note: z.string(),
    })
    .nullable(),
});
export type KernelSummary = z.infer<typeof KernelSummary>;

/** The library as it was left: photos with their versions, and the kernels (previews are made anew). */
export const Session = z.object({
  photos: z
    .array(
      z.object({
        /** versions[0] is the original. */
        versions: z
          .array(z.object({ path: FilePath, label: z.string().max(500) }))
          .min(1)
          .max(1000),
        shown: z.number().int().min(0),
      }),
    )
    .max(10_000),
  selected: z.number().int().min(0),
  kernels: z.array(z.object({ path: FilePath, name: z.string().max(200) })).max(10_000),
});
export type Session = z.infer<typeof Session>;
export const EMPTY_SESSION: Session = { photos: [], selected: 0, kernels: [] };

export const Region = z.object({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().min(16),
  height: z.number().int().min(16),
});
export type Region = z.infer<typeof Region>;

/** A uniform blur kernel (PSF) as fast mode estimates it: odd side, row-major, non-negative weights. */
export const BlurKernel = z
  .object({
    size: z
      .number()
      .int()
      .min(1)
      .max(151)
      .refine((size) => size % 2 === 1, 'the side must be odd'),
    weights: z.array(z.number().min(0).max(1e6)).max(151 * 151),
  })
  .refine(
    (kernel) => kernel.weights.length === kernel.size * kernel.size,
    'there must be size x size weights',
  )
  .refine((kernel) => kernel.weights.some((w) => w > 0), 'the weights must not all be 0');
export type BlurKernel = z.infer<typeof BlurKernel>;

/**
 * Fast mode's prior weight: how strongly the deconvolution prefers clean, smooth areas to recovered detail.
 * 1 is the photo's own setting (from its noise); higher calms noise and ringing, lower recovers more detail.
 */
export const PriorWeight = z.number().min(0.1).max(10);

/** How far fast mode's blur estimate can be trusted ('failed': none could be measured). */
export const Reliability = z.enum(['reliable', 'uncertain', 'failed']);
export type Reliability = z.infer<typeof Reliability>;

/** What a batch does to each photo: re-encode it, put a saved blur kernel onto it, or deblur it. */
export const BatchPreset = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('export') }),
  z.object({
    kind: z.literal('apply-kernel'),
    kernelPath: FilePath,
    mode: z.enum(['spatial', 'uniform']).default('spatial'),
    /** As the applyKernel job's `using` (absent: 'encoded'). */
    using: z.enum(['encoded', 'explicit']).optional(),
  }),
  // Fast or learned mode over whole photos: paper mode is limited to 1 MP regions and takes minutes to
  // hours per photo, far too slow for batches.
  z.object({
    kind: z.literal('deblur'),
    /** As the deblur job's: 'fast' (default) or 'learned' (the network; minutes per megapixel on a CPU). */
    mode: z.enum(['fast', 'learned']).default('fast'),
    /** 0 leaves each photo as it is, 1 removes the estimated blur fully (as the deblur job's). */
    strength: z.number().min(0).max(1).default(1),
    /** Fast mode: also run the learned restorer (as the deblur job's `learned`). */
    learned: z.boolean().default(false),
    /** Fast mode: the guided estimate (as the deblur job's `guided`; about a minute more per photo on a CPU). */
    guided: z.boolean().default(false),
  }),
]);
export type BatchPreset = z.infer<typeof BatchPreset>;

export const ConflictPolicy = z.enum(['skip', 'rename', 'overwrite']);
export type ConflictPolicy = z.infer<typeof ConflictPolicy>;

export const BatchItemStatus = z.enum(['pending', 'done', 'failed', 'skipped']);
export type BatchItemStatus = z.infer<typeof BatchItemStatus>;

export const BatchCounts = z.object({
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  pending: z.number().int(),
});
export type BatchCounts = z.infer<typeof BatchCounts>;

/** One photo of a batch: where its result goes and how it went. */
export const BatchItem = z.object({
  input: z.string(),
  /** The photo as reports name it: its file name, under its sub-folder in a recursive batch. */
  name: z.string(),
  /** Absolute path of the result. */
  output: z.string(),
  status: BatchItemStatus,
  reason: z.string().optional(),
});
export type BatchItem = z.infer<typeof BatchItem>;

/** A batch job's progress: which photo of how many, and what is happening to it. */
export const BatchItemProgress = z.object({
  /** 1-based, over the whole batch (a resumed batch goes on from the photos already done). */
  index: z.number().int(),
  total: z.number().int(),
  /** The photo's file name. */
  name: z.string(),
  /** The step of that photo's job ('starting', ..., then its status when it ends). */
  stage: z.string(),
});
export type BatchItemProgress = z.infer<typeof BatchItemProgress>;

/** How batch results are named unless the batch says otherwise. */
export const DEFAULT_NAME_TEMPLATE = '{name}-{preset}';

// Many photos and folders through one preset into a folder; resumable (see src/engine/batch).
export const BatchJobSpec = z.object({
  kind: z.literal('batch'),
  /** Photos and folders. */
  inputs: z.array(FilePath).min(1).max(100_000),
  /** Also take photos in sub-folders (the output tree mirrors the input tree). */
  recursive: z.boolean().default(false),
  outDir: FilePath,
  preset: BatchPreset,
  output: OutputOptions.default({}),
  /** {name}, {preset}, {date} and {n}; default '{name}-{preset}'. */
  nameTemplate: z.string().min(1).max(200).optional(),
  onConflict: ConflictPolicy.default('rename'),
  /** Items run at the same time. */
  jobs: z.number().int().min(1).max(16).default(1),
});
export type BatchJobSpec = z.infer<typeof BatchJobSpec>;
export type BatchJobSpecInput = z.input<typeof BatchJobSpec>;
/** A batch's options as the engine runs them and its manifest keeps them: the batch job without its kind. */
export type BatchSpec = Omit<BatchJobSpec, 'kind'>;

/** Long-running work. Each kind is a job: it gets an id, streams progress and can be cancelled. */
export const JobSpec = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('deblur'),
    photoPath: FilePath,
    outputPath: FilePath,
    /**
     * 'fast' (default): blind kernel estimation, then full-size restoration. 'paper': Algorithm 1 on at most
     * 1 MP. 'learned': a deblurring network trained on GoPro (MAXIM), tiled; minutes per megapixel on a CPU.
     */
    mode: z.enum(['fast', 'paper', 'learned']).default('fast'),
    /**
     * Fast mode: where to estimate the blur (automatic when absent). Paper and learned mode: the region to
     * restore (the whole photo when absent; the rest is left as it is). In photo pixels.
     */
    roi: Region.optional(),
    /** Paper mode's iterations; fast mode has none to set. */
    iterations: z.number().int().min(1).max(20_000).optional(),
    /** 0 leaves the photo as it is, 1 removes the estimated blur fully. */
    strength: z.number().min(0).max(1).default(1),
    /**
     * Fast mode: after the deconvolution, run the learned restorer (a network trained on blurred photos,
     * not in the paper) over the photo; it also sharpens blur that one kernel cannot describe.
     */
    learned: z.boolean().default(false),
    /**
     * Fast mode: the guided estimate. The learned mode's network restores the estimation window and the
     * kernel is measured from that restoration and the photo (non-blind) instead of blindly; minutes more.
     */
    guided: z.boolean().default(false),
    /** Fast mode: the deconvolution's prior weight (see PriorWeight). */
    priorWeight: PriorWeight.default(1),
    /**
     * Fast mode: restore with this kernel (an earlier run's estimate) instead of estimating one, e.g. the
     * same blur with new settings. The region to estimate on (`roi`) then plays no part.
     */
    kernel: BlurKernel.optional(),
    /**
     * Fast mode: the part of the photo on screen (at most 4 MP). Once the kernel is known, the job sends it
     * restored at full resolution as its preview: the same pixels the result will have there.
     */
    previewRegion: Region.refine((r) => r.width * r.height <= 4e6, 'at most 4 MP').optional(),
    seed: z.number().int().default(0),
    output: OutputOptions.default({}),
  }),
  z.object({
    kind: z.literal('exportPhoto'),
    sourcePath: FilePath,
    outputPath: FilePath,
    output: OutputOptions.default({}),
    /** A file already at outputPath: replace it, or keep it and write nothing (the result says so). */
    ifExists: z.enum(['replace', 'keep']).default('replace'),
  }),
  z.object({
    kind: z.literal('extractKernel'),
    /**
     * The sharp photo of the pair. Absent: the learned mode's network restores the windows the blur is
     * measured on, and its result stands in for the sharp photo (needs the network; minutes).
     */
    sharpPath: FilePath.optional(),
    blurryPath: FilePath,
    /** Where the .blurkernel file is written. */
    outputPath: FilePath,
    name: z.string().max(200).optional(),
  }),
  z.object({
    kind: z.literal('applyKernel'),
    photoPath: FilePath,
    kernelPath: FilePath,
    outputPath: FilePath,
    /** 'spatial' stretches the kernel's code grid over the photo; 'uniform' uses its mean everywhere. */
    mode: z.enum(['spatial', 'uniform']).default('spatial'),
    /**
     * 'encoded': F with the kernel's codes (the paper's transfer; needs the model that read it). 'explicit':
     * the PSFs measured from the pair, convolved in linear light (any model; kernel files from before they
     * were stored have none).
     */
    using: z.enum(['encoded', 'explicit']).default('encoded'),
    output: OutputOptions.default({}),
  }),
  BatchJobSpec,
  // Measures the engine's convolution speed on the active backend (also a harmless job for health checks).
  z.object({
    kind: z.literal('speedTest'),
    iterations: z.number().int().min(1).max(10_000),
    size: z.number().int().min(16).max(1024).default(128),
  }),
]);
export type JobSpec = z.infer<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;

export const SpeedTestResult = z.object({ kind: z.literal('speedTest'), gflops: z.number(), ms: z.number() });
export const JobResult = z.discriminatedUnion('kind', [
  SpeedTestResult,
  z.object({ kind: z.literal('extractKernel'), kernel: KernelSummary }),
  z.object({ kind: z.literal('applyKernel'), outputPath: FilePath }),
  z.object({
    kind: z.literal('deblur'),
    outputPath: FilePath,
    /** Fast mode: the blur it found, where it looked, and how far the estimate can be trusted. */
    estimate: z
      .object({
        reliability: Reliability,
        note: z.string(),
        /** False when the photo was written unchanged (the estimate failed and nothing else ran). */
        changed: z.boolean(),
        window: Region,
        /** The blur's size in pixels: the box of the kernel's taps of at least 2 % of its peak. */
        extent: z.object({ width: z.number().int(), height: z.number().int() }),
        /** The estimated kernel drawn as a blur trace (PNG data URL). */
        traceDataUrl: z.string(),
        /** The estimated kernel, for running again with new settings (`kernel`) and for `previewDeblur`. */
        kernel: BlurKernel,
      })
      .optional(),
  }),
  z.object({
    kind: z.literal('exportPhoto'),
    outputPath: FilePath,
    /** False when a file was already there and the job was asked to keep it. */
    written: z.boolean(),
  }),
  z.object({
    kind: z.literal('batch'),
    outDir: FilePath,
    /** The readable report (batch-report.txt; batch-report.json lies beside it). */
    reportPath: FilePath,
    counts: BatchCounts,
    /** The items that were not done (failed, skipped), each with its reason; the report lists all. */
    problems: z.array(BatchItem),
    /**
     * Deblur preset: each photo done, with the verdict on its blur estimate, whether the result differs from
     * the photo (false: written unchanged, the blur could not be estimated) and the note that says so.
     */
    deblurred: z.array(
      z.object({
        name: z.string(),
        output: z.string(),
        reliability: Reliability,
        changed: z.boolean(),
        note: z.string(),
      }),
    ),
  }),
]);
export type JobResult = z.infer<typeof JobResult>;
export type BatchResult = Extract<JobResult, { kind: 'batch' }>;

export const LearnedEstimate = z.object({
  /** False when the network is not installed (note says why). */
  available: z.boolean(),
  note: z.string(),
  tiles: z.number().int(),
  seconds: z.number().nullable(),
  /** True: seconds from a learned job this engine ran; false: the typical figure of decision 0020. */
  measured: z.boolean(),
});
export type LearnedEstimate = z.infer<typeof LearnedEstimate>;

/** Request/response calls: name -> params and result schemas. */
export const calls = {
  info: { params: z.object({}), result: EngineInfo },
  getSettings: { params: z.object({}), result: Settings },
  setSettings: { params: Settings.partial(), result: Settings },
  openPhoto: { params: z.object({ path: FilePath }), result: PhotoPreview },
  startJob: { params: JobSpec, result: z.object({ jobId: z.string() }) },
  cancelJob: { params: z.object({ jobId: z.string() }), result: z.object({ cancelled: z.boolean() }) },
  restartEngine: { params: z.object({}), result: z.object({}) },
  /** A fresh file path in the app's workspace for a result (a new version of a photo, a kernel). */
  workspacePath: {
    params: z.object({
      baseName: z.string().min(1).max(200),
      extension: z.enum(['.png', '.tif', '.jpg', '.blurkernel']),
    }),
    result: z.object({ path: FilePath }),
  },
  /**
   * What the learned mode would take on a `width` x `height` photo or region, said before it starts: the
   * tiles and the seconds, from this engine's last learned job or else from a typical figure.
   */
  learnedEstimate: {
    params: z.object({ width: z.number().int().min(1), height: z.number().int().min(1) }),
    result: LearnedEstimate,
  },
  /** A full-resolution region of a photo scaled to outWidth x outHeight (the viewer's tiles, the loupe). */
  photoRegion: {
    params: z.object({
      path: FilePath,
      x: z.number().int().min(0),
      y: z.number().int().min(0),
      width: z.number().int().min(1),
      height: z.number().int().min(1),
      outWidth: z.number().int().min(1).max(4096),
      outHeight: z.number().int().min(1).max(4096),
    }),
    /** A JPEG data URL. */
    result: z.object({ dataUrl: z.string() }),
  },
  /**
   * Fast mode's restoration of one region of a photo with a known kernel and the given settings (as the
   * deblur job's), for a live preview while they change: the same pixels a deblur job with that kernel
   * and those settings gives there. A JPEG data URL at full resolution.
   */
  previewDeblur: {
    params: z.object({
      photoPath: FilePath,
      kernel: BlurKernel,
      region: Region.refine((r) => r.width * r.height <= 4e6, 'at most 4 MP'),
      strength: z.number().min(0).max(1).default(1),
      priorWeight: PriorWeight.default(1),
    }),
    result: z.object({ dataUrl: z.string() }),
  },
  /**
   * Adds a .blurkernel file to the library: validated (format, and made by the model in use), copied into
   * the workspace unless it is there already; the summary names the workspace copy.
   */
  importKernel: { params: z.object({ path: FilePath }), result: KernelSummary },
  /** Reads a kernel file of the library (validated; any model). */
  openKernel: { params: z.object({ path: FilePath }), result: KernelSummary },
  /** A kernel file's JSON text for saving elsewhere (a download), optionally under a new name. */
  exportKernel: {
    params: z.object({ path: FilePath, name: z.string().min(1).max(200).optional() }),
    result: z.object({ fileName: z.string(), text: z.string() }),
  },
  /** Deletes a kernel file, but only one in the workspace; others stay (the UI forgets them). */
  deleteKernel: { params: z.object({ path: FilePath }), result: z.object({ deleted: z.boolean() }) },
  /** The saved library; entries whose files are gone are left out and listed in `dropped`. */
  loadSession: {
    params: z.object({}),
    result: z.object({ session: Session, dropped: z.array(z.string()) }),
  },
  /** Saves the library (atomically) in the workspace. */
  saveSession: { params: z.object({ session: Session }), result: z.object({}) },
  /**
   * Where jobs may write: the workspace, and the folders granted so far (`--output-dir`, the host's
   * `outputDirs`, a folder or save path chosen in a native dialog), in the order granted.
   */
  outputFolders: {
    params: z.object({}),
    result: z.object({ folders: z.array(FilePath), workspace: FilePath }),
  },
  /**
   * The batch queue kept in an output folder (allowed folders only): the counts of its last run, and the
   * batch to start again to resume it — null when nothing is left to do, it was discarded, or none is there.
   */
  batchStatus: {
    params: z.object({ outDir: FilePath }),
    result: z.object({ found: z.boolean(), counts: BatchCounts, resume: BatchJobSpec.nullable() }),
  },
  /** Stops offering the paused batch in an output folder for resuming (its results and queue stay). */
  discardBatch: { params: z.object({ outDir: FilePath }), result: z.object({ discarded: z.boolean() }) },
  // Native dialogs: answered by the desktop app's main process; the web bridge has none and says so.
  // The folder chosen (or the folder of the file chosen for saving) becomes an allowed output folder.
  chooseOutputFolder: {
    params: z.object({ title: z.string().max(200).optional(), defaultPath: FilePath.optional() }),
    /** null when the user cancelled. */
    result: z.object({ path: FilePath.nullable() }),
  },
  chooseSavePath: {
    params: z.object({
      title: z.string().max(200).optional(),
      /** A file name or a full path to start from. */
      defaultPath: FilePath.optional(),
      filters: z.array(DialogFilter).max(10).optional(),
    }),
    result: z.object({ path: FilePath.nullable() }),
  },
  /**
   * Photos to open, or with `folder` whole folders (a batch takes folders); with `folder` and `expand`,
   * the photos directly inside the chosen folders (the library opens those).
   */
  choosePhotos: {
    params: z.object({ folder: z.boolean().default(false), expand: z.boolean().default(false) }),
    /** Empty when the user cancelled. */
    result: z.object({ paths: z.array(FilePath) }),
  },
  /** Shows a file the app wrote (in an allowed output folder) in the system's file manager. */
  showInFolder: { params: z.object({ path: FilePath }), result: z.object({}) },
} as const;
export type CallName = keyof typeof calls;
/** The calls only the desktop app can answer (they need a window or the system's file manager). */
export const DIALOG_CALLS = ['chooseOutputFolder', 'chooseSavePath', 'choosePhotos', 'showInFolder'] as const;
export type DialogCallName = (typeof DIALOG_CALLS)[number];
export type CallParams<C extends CallName> = z.input<(typeof calls)[C]['params']>;
export type CallResult<C extends CallName> = z.infer<(typeof calls)[C]['result']>;
/** A call's params as its handler gets them: validated, defaults filled in. */
export type CallParsed<C extends CallName> = z.output<(typeof calls)[C]['params']>;

/** A set of calls by name: the params each handler gets and the result it gives. */
export type CallTable = Record<string, { params: unknown; result: unknown }>;
/** The contract's calls as a CallTable. */
export type ApiCalls = { [C in CallName]: { params: CallParsed<C>; result: CallResult<C> } };
/** One handler for every call of `T` (a missing one does not compile). */
export type CallHandlers<T extends CallTable = ApiCalls> = {
  [K in keyof T]: (params: T[K]['params']) => Promise<T[K]['result']> | T[K]['result'];
};
/** A call of `T` with its params, name and params kept paired (a union over the names in `K`). */
export type CallOf<T extends CallTable, K extends keyof T = keyof T> = {
  [P in K]: { method: P; params: T[P]['params'] };
}[K];

/** Runs the handler of `call`. */
export async function dispatch<T extends CallTable, K extends keyof T>(
  handlers: CallHandlers<T>,
  call: CallOf<T, K>,
): Promise<T[K]['result']> {
  return handlers[call.method](call.params);
}

export const LossPoint = z.object({ step: z.number(), terms: z.record(z.string(), z.number()) });

export const EngineEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('jobProgress'),
    jobId: z.string(),
    stage: z.string(),
    /** 0..1 */
    progress: z.number(),
    etaSeconds: z.number().nullable(),
    loss: LossPoint.optional(),
    /** A downscaled intermediate result (JPEG data URL), every few seconds during long jobs. */
    preview: z.string().optional(),
    /** Batch jobs: the photo `stage` is about, as fields (the stage says the same in words). */
    item: BatchItemProgress.optional(),
  }),
  z.object({ type: z.literal('jobDone'), jobId: z.string(), result: JobResult }),
  z.object({
    type: z.literal('jobFailed'),
    jobId: z.string(),
    error: z.string(),
    cancelled: z.boolean(),
  }),
  z.object({
    type: z.literal('engineStatus'),
    state: z.enum(['starting', 'ready', 'restarted']),
    info: EngineInfo.nullable(),
  }),
]);
export type EngineEvent = z.infer<typeof EngineEvent>;

/** Wire messages of the web bridge's WebSocket (the Electron IPC carries the same call/event payloads). */
export const ClientMessage = z.object({ id: z.number().int(), method: z.string(), params: z.unknown() });
export type ClientMessage = z.infer<typeof ClientMessage>;
export type ServerMessage =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: string }
  | { kind: 'event'; event: EngineEvent };

export class ApiError extends Error {}

/** Validates a call's name and params at a trust boundary; throws ApiError with a readable message. */
export function parseCall<C extends CallName>(method: C, params: unknown): CallOf<ApiCalls, C>;
export function parseCall(method: unknown, params: unknown): CallOf<ApiCalls>;
export function parseCall(method: unknown, params: unknown): CallOf<ApiCalls> {
  if (typeof method !== 'string' || !Object.hasOwn(calls, method)) {
    throw new ApiError(`Unknown call "${String(method)}".`);
  }
  const name = method as CallName;
  const parsed = calls[name].params.safeParse(params ?? {});
  if (!parsed.success) {
    throw new ApiError(`Invalid parameters for "${name}": ${z.prettifyError(parsed.error)}`);
  }
  // The schema of `name` made these params: they are that call's.
  return { method: name, params: parsed.data } as CallOf<ApiCalls>;
}

/** What every transport offers the renderer. */
export interface BlurspaceApi {
  call<C extends CallName>(method: C, params: CallParams<C>): Promise<CallResult<C>>;
  onEvent(listener: (event: EngineEvent) => void): () => void;
  /** A path the engine can read for a file the user picked or dropped (the web bridge uploads it first). */
  pathForFile(file: File): Promise<string>;
  readonly transport: 'electron' | 'web';
}
