// The engine: everything Blurspace computes. Pure Node + TensorFlow.js, no Electron. The worker thread,
// the CLI and the tests all drive this one class.
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import packageJson from '../../package.json';
import type {
  BackendPreference,
  CallParsed,
  EngineInfo,
  JobResult,
  JobSpec,
  KernelSummary,
  LearnedEstimate,
  PhotoPreview,
  TileSize,
} from '../common/api';
import { initBackend, type BackendStatus } from './core/backend';
import { runBatchJob } from './batch';
import { makePreview, readPhoto, type Photo } from './image';
import { jobContext, type ProgressUpdate } from './core/progress';
import {
  exportKernelText,
  importKernel,
  runApplyKernel,
  runExtractKernel,
  summarise,
} from './jobs/kernel-jobs';
import { loadKernelFile } from './kernels/kernel-file';
import { previewDeblur, runDeblur } from './jobs/deblur-job';
import { runExportPhoto } from './jobs/export';
import { runSpeedTest } from './jobs/speed-test';
import { loadModel, loadRestorer, type LoadedModel } from './model/model-store';
import type { Restorer } from './model/restorer';
import { findMaximModel, MAXIM_MISSING, MAXIM_PACKAGE } from './model/maxim';
import { LearnedNetwork, learnedTileCount } from './deblur/learned-mode';
import { renderRegion, type RegionRequest } from './image/preview';

export const PREVIEW_MAX_SIDE = 2048;

export interface EngineOptions {
  backend: BackendPreference;
  /** The user's chosen checkpoint; null means the shipped default. */
  checkpointPath: string | null;
  /** The checkpoint that ships with the app (resources/checkpoints). */
  defaultCheckpointPath: string;
  /** The shipped learned restorer (fast mode's `learned`); absent in a build without one. */
  restorerPath?: string;
  /** Tile side for the tiled operations (Settings); 'auto' or absent lets each pick its own. */
  tileSize?: TileSize;
  /**
   * The learned mode's network (its model.json): absent, the installed npm package's; null, none (the mode
   * then says the package is missing).
   */
  learnedModel?: string | null;
}

export class Engine {
  private model: Promise<LoadedModel> | null = null;
  private restorer: Promise<Restorer> | null = null;
  /** The photo of the last live preview, decoded. */
  private previewPhoto: { path: string; photo: Promise<Photo> } | null = null;
  /** The learned mode's network, kept between jobs (its graph, its loaded threads, its measured speed). */
  private network: LearnedNetwork | null = null;
  private readonly learnedModel: string | null;

  private constructor(
    private readonly status: BackendStatus,
    private readonly options: EngineOptions,
  ) {
    this.learnedModel = options.learnedModel === undefined ? findMaximModel() : options.learnedModel;
  }

  static async create(options: EngineOptions): Promise<Engine> {
    return new Engine(await initBackend(options.backend), options);
  }

  info(): EngineInfo {
    return {
      backend: this.status.backend,
      device: this.status.device,
      gpu: this.status.gpu,
      backendNote: this.status.note,
      versions: {
        blurspace: packageJson.version,
        node: process.versions.node,
        tfjs: tf.version.tfjs,
        sharp: sharp.versions.sharp ?? 'unknown',
        ...(process.versions.electron ? { electron: process.versions.electron } : {}),
      },
      checkpoint: { path: this.checkpointPath(), description: this.checkpointDescription() },
      learnedNetwork: this.learnedModel
        ? { available: true, note: `MAXIM-3S from ${MAXIM_PACKAGE}` }
        : { available: false, note: MAXIM_MISSING },
    };
  }

  private checkpointPath(): string {
    return this.options.checkpointPath ?? this.options.defaultCheckpointPath;
  }

  private checkpointDescription(): string {
    const file = this.checkpointPath();
    if (this.options.checkpointPath === null && !existsSync(file)) {
      return 'no default model found (resources/checkpoints is empty in this build)';
    }
    return path.basename(file);
  }

  /** The F/G model, loaded on first use and kept. */
  loadModel(): Promise<LoadedModel> {
    this.model ??= loadModel(this.checkpointPath());
    // A failed load is retried next time (the user may fix the file).
    this.model.catch(() => (this.model = null));
    return this.model;
  }

  /** Loads the F/G model in `checkpointPath` and lets it go: throws what a job using it would. */
  async checkCheckpoint(checkpointPath: string): Promise<void> {
    (await loadModel(checkpointPath)).model.dispose();
  }

  /** The learned restorer, loaded on first use and kept. */
  loadRestorer(): Promise<Restorer> {
    const file = this.options.restorerPath;
    if (!file) return Promise.reject(new Error('This build of Blurspace has no learned restorer.'));
    this.restorer ??= loadRestorer(file);
    this.restorer.catch(() => (this.restorer = null));
    return this.restorer;
  }

  /** The learned mode's network (loaded when a job first runs it, then kept); throws when not installed. */
  learnedNetwork(): LearnedNetwork {
    const modelJson = this.learnedModel;
    if (!modelJson) throw new Error(MAXIM_MISSING);
    this.network ??= new LearnedNetwork(modelJson);
    return this.network;
  }

  learnedEstimate(width: number, height: number): LearnedEstimate {
    const tiles = learnedTileCount(width, height);
    if (!this.learnedModel)
      return { available: false, note: MAXIM_MISSING, tiles, seconds: null, measured: false };
    const network = this.learnedNetwork();
    const measured = network.measuredSecondsPerTile !== null;
    const perTile = network.secondsPerTile();
    const note = measured
      ? `from the last learned job here (${perTile.toFixed(0)} s a tile)`
      : `typical for a two-core CPU (${perTile} s a tile); measured after the first run`;
    return { available: true, note, tiles, seconds: tiles * perTile, measured };
  }

  async openPhoto(photoPath: string): Promise<PhotoPreview> {
    const preview = await makePreview(photoPath, PREVIEW_MAX_SIDE);
    return {
      path: photoPath,
      name: path.basename(photoPath),
      width: preview.fullWidth,
      height: preview.fullHeight,
      format: preview.format,
      previewDataUrl: `data:image/jpeg;base64,${preview.jpeg.toString('base64')}`,
    };
  }

  /** Validates a kernel file made by the model in use; writes it to `copyTo` (the workspace) if given. */
  async importKernel(source: string, copyTo: string | null): Promise<KernelSummary> {
    return importKernel(source, copyTo, await this.loadModel());
  }

  async openKernel(kernelPath: string): Promise<KernelSummary> {
    return summarise(kernelPath, await loadKernelFile(kernelPath));
  }

  exportKernel(kernelPath: string, name?: string): Promise<{ fileName: string; text: string }> {
    return exportKernelText(kernelPath, name);
  }

  /** Fast mode's live preview of a region (see `previewDeblur` in the contract). */
  async previewDeblur(params: CallParsed<'previewDeblur'>): Promise<{ dataUrl: string }> {
    // The sliders move over one photo: it is decoded once, not on every change.
    if (this.previewPhoto?.path !== params.photoPath) {
      const photo = readPhoto(params.photoPath);
      this.previewPhoto = { path: params.photoPath, photo };
      photo.catch(() => (this.previewPhoto = null));
    }
    const photo = await this.previewPhoto.photo;
    const tileSize = typeof this.options.tileSize === 'number' ? this.options.tileSize : undefined;
    return { dataUrl: await previewDeblur(photo, params, tileSize) };
  }

  async photoRegion(request: RegionRequest): Promise<{ dataUrl: string }> {
    const jpeg = await renderRegion(request);
    return { dataUrl: `data:image/jpeg;base64,${jpeg.toString('base64')}` };
  }

  /** Runs one job to completion; throws JobCancelledError when `signal` aborts. */
  async runJob(
    spec: JobSpec,
    signal: AbortSignal,
    onProgress: (update: ProgressUpdate & { etaSeconds: number | null }) => void,
  ): Promise<JobResult> {
    const ctx = jobContext(signal, onProgress);
    if (typeof this.options.tileSize === 'number') ctx.tileSize = this.options.tileSize;
    switch (spec.kind) {
      case 'speedTest':
        return runSpeedTest(spec, ctx);
      case 'extractKernel':
        return runExtractKernel(spec, ctx, await this.loadModel(), () => this.learnedNetwork());
      case 'applyKernel':
        return runApplyKernel(spec, ctx, await this.loadModel());
      case 'exportPhoto':
        return runExportPhoto(spec, ctx);
      case 'deblur':
        // Each network is loaded only when the job uses it: F and G for paper mode, the restorer for
        // `learned`, MAXIM for learned mode.
        return runDeblur(spec, ctx, {
          model: () => this.loadModel(),
          restorer: () => this.loadRestorer(),
          learned: () => this.learnedNetwork(),
        });
      case 'batch':
        // Each item goes through runJob again: the same code as a single export, kernel or deblur job.
        return runBatchJob(spec, ctx, this);
    }
  }
}
