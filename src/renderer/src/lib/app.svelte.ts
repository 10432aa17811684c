// The app's state: opened photos with their versions, kernels, engine status and messages. The library
// (photos, versions, kernels) is saved in the engine's workspace as it changes and restored on start.
import type {
  EngineEvent,
  EngineInfo,
  JobResult,
  KernelSummary,
  PhotoPreview,
  Region,
  Session,
} from '../../../common/api';
import { api } from './api';
import type { OutputFolders } from './paths';

/** What fast mode found when it made a version: its kernel, and whether it could be trusted. */
export type DeblurEstimate = NonNullable<Extract<JobResult, { kind: 'deblur' }>['estimate']>;

export interface Version {
  preview: PhotoPreview;
  /** How it was made, e.g. "kernel: blur1 (spatial)". */
  label: string;
  /** Versions made by fast mode in this session (not kept in the saved library). */
  estimate?: DeblurEstimate;
}

export interface LibraryPhoto {
  /** versions[0] is the original; results follow, newest last. Files are never deleted. */
  versions: Version[];
  /** Index of the version shown. */
  shown: number;
}

export interface KernelEntry {
  summary: KernelSummary;
  name: string;
}

export type CompareMode = 'single' | 'split' | 'side';

/** The side bar's tool panels; one is open at a time. */
export type PanelId = 'kernel' | 'deblur' | 'export' | 'batch' | 'settings';

export interface Message {
  id: number;
  text: string;
  /** Errors stay until dismissed; notices say something worth knowing and go away by themselves. */
  kind: 'error' | 'notice';
}

/** What fast mode's learned restorer is, for the Deblur and Batch panels. */
export const LEARNED_HINT =
  'After the deconvolution, a network trained on blurred photos (not in the paper) restores detail; it also ' +
  'helps where one blur kernel cannot describe the blur (moving subjects), and calms ringing. It can darken ' +
  'fine dark detail slightly. Adds about a minute per 24 MP on a 2-core laptop CPU.';

/** What fast mode's guided estimate is, for the Deblur and Batch panels. */
export const GUIDED_HINT =
  'Learned mode’s network first sharpens the part the blur is measured on, and the blur is read against its ' +
  'result instead of from the blurry photo alone. Better on real camera shake and moving subjects; on a ' +
  'plain, even shake the usual estimate does as well. The network runs on that part only: about a minute ' +
  'on a laptop CPU, longer on a large region.';

export const KERNEL_EXTENSION = '.blurkernel';
const NOTICE_SECONDS = 12;
const SAVE_DELAY_MS = 250;

let nextMessageId = 1;

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class AppState {
  info = $state<EngineInfo | null>(null);
  engineState = $state('connecting to the engine…');
  photos = $state<LibraryPhoto[]>([]);
  selected = $state(0);
  opening = $state(0);
  kernels = $state<KernelEntry[]>([]);
  /** Index of the kernel chosen in the library (applied, shown as the trace grid). */
  chosenKernel = $state(0);
  /** Whether the viewer draws the chosen kernel's blur trace grid over the photo. */
  traceGrid = $state(false);
  messages = $state<Message[]>([]);
  compare = $state<CompareMode>('single');
  /** The tool panel open in the side bar (none on first launch). */
  panel = $state<PanelId | null>(null);
  /** Where deblurring estimates the blur, in photo pixels of the selected photo. */
  roi = $state<Region | null>(null);
  drawingRoi = $state(false);
  /** The part of the selected photo on screen, in photo pixels (the viewer keeps it current). */
  visible = $state<Region | null>(null);
  /** The Deblur panel's live preview of new settings: a region of the selected photo, restored. */
  livePreview = $state<{ photoPath: string; src: string; region: Region } | null>(null);

  current = $derived<LibraryPhoto | null>(this.photos[this.selected] ?? null);
  kernel = $derived<KernelEntry | null>(this.kernels[this.chosenKernel] ?? null);
  /** Where jobs may write; null until the engine host has said. */
  outputs = $state<OutputFolders | null>(null);
  /** True once the saved library has been read (until then nothing is saved over it). */
  restored = $state(false);
  private saving: Promise<void> = Promise.resolve();

  constructor() {
    api.onEvent((event) => this.onEngineEvent(event));
    $effect.root(() => {
      $effect(() => {
        if (!this.restored) return;
        const session = this.snapshot();
        const timer = setTimeout(() => this.save(session), SAVE_DELAY_MS);
        return () => clearTimeout(timer);
      });
    });
  }

  report(context: string, error: unknown): void {
    this.messages = [
      ...this.messages,
      { id: nextMessageId++, text: `${context}: ${describeError(error)}`, kind: 'error' },
    ];
  }

  notify(text: string): void {
    const id = nextMessageId++;
    this.messages = [...this.messages, { id, text, kind: 'notice' }];
    setTimeout(() => this.dismiss(id), NOTICE_SECONDS * 1000);
  }

  dismiss(id: number): void {
    this.messages = this.messages.filter((message) => message.id !== id);
  }

  async refreshInfo(): Promise<void> {
    try {
      this.info = await api.call('info', {});
      this.engineState = 'ready';
    } catch (error) {
      this.engineState = 'engine unavailable';
      this.report('The engine is not answering', error);
    }
  }

  private onEngineEvent(event: EngineEvent): void {
    if (event.type !== 'engineStatus') return;
    if (event.info) this.info = event.info;
    this.engineState = { ready: 'ready', restarted: 'restarting…', starting: 'starting…' }[event.state];
    if (event.state === 'restarted') void this.refreshInfo();
  }

  /** Re-reads where jobs may write (after a native dialog granted a folder, say). */
  async refreshOutputs(): Promise<void> {
    try {
      this.outputs = await api.call('outputFolders', {});
    } catch (error) {
      this.report('Could not read the allowed output folders', error);
    }
  }

  /** Photos picked or dropped (the web bridge uploads them); kernel files go to the kernel library. */
  async openFiles(files: Iterable<File>): Promise<void> {
    for (const file of files) {
      if (file.name.toLowerCase().endsWith(KERNEL_EXTENSION)) {
        await this.importKernels([file]);
        continue;
      }
      await this.openPhoto(file.name, () => api.pathForFile(file));
    }
  }

  /** The desktop app's native dialog: photos, or the photos in folders; each opened by its path. */
  async choosePhotos(folder: boolean): Promise<void> {
    try {
      const { paths } = await api.call('choosePhotos', { folder, expand: folder });
      for (const path of paths) {
        if (!path.toLowerCase().endsWith(KERNEL_EXTENSION)) await this.openPhoto(path, async () => path);
        else
          await api.call('importKernel', { path }).then(
            (summary) => this.addKernel(summary),
            (error: unknown) => this.report(`Could not import ${path}`, error),
          );
      }
    } catch (error) {
      this.report('Could not open photos', error);
    }
  }

  private async openPhoto(name: string, locate: () => Promise<string>): Promise<void> {
    this.opening++;
    try {
      const path = await locate();
      // A photo already open is shown, not opened twice.
      const open = this.photos.findIndex((photo) => photo.versions[0].preview.path === path);
      if (open >= 0) {
        this.select(open);
        return;
      }
      const preview = await api.call('openPhoto', { path });
      this.photos = [...this.photos, { versions: [{ preview, label: 'Original' }], shown: 0 }];
      this.select(this.photos.length - 1);
      // A photo opened is a photo to work on: the Deblur panel, unless another tool is in use.
      if (this.panel === null || this.panel === 'settings') this.panel = 'deblur';
    } catch (error) {
      this.report(`Could not open ${name}`, error);
    } finally {
      this.opening--;
    }
  }

  select(index: number): void {
    if (index < 0 || index >= this.photos.length || index === this.selected) return;
    this.selected = index;
    this.roi = null;
    this.drawingRoi = false;
    this.livePreview = null;
    if (this.photos[index].versions.length < 2) this.compare = 'single';
  }

  /** Opens a result file the engine wrote and adds it as the newest version of `photo`. */
  async addVersion(
    photo: LibraryPhoto,
    path: string,
    label: string,
    estimate?: DeblurEstimate,
  ): Promise<void> {
    const preview = await api.call('openPhoto', { path });
    photo.versions.push({ preview, label, ...(estimate && { estimate }) });
    photo.shown = photo.versions.length - 1;
    if (photo === this.current && this.compare === 'single') this.compare = 'split';
  }

  /** Forgets the newest version (its file stays in the workspace). */
  undoVersion(photo: LibraryPhoto): void {
    if (photo.versions.length < 2) return;
    photo.versions.pop();
    photo.shown = Math.min(photo.shown, photo.versions.length - 1);
    if (photo.versions.length < 2) this.compare = 'single';
  }

  /** Adds kernel files (picked or dropped) to the library; the engine checks them and keeps a copy. */
  async importKernels(files: Iterable<File>): Promise<void> {
    for (const file of files) {
      try {
        const summary = await api.call('importKernel', { path: await api.pathForFile(file) });
        this.addKernel(summary);
      } catch (error) {
        this.report(`Could not import ${file.name}`, error);
      }
    }
  }

  /** A new kernel in the library, chosen. */
  addKernel(summary: KernelSummary): void {
    const known = this.kernels.findIndex((entry) => entry.summary.kernelPath === summary.kernelPath);
    if (known < 0) this.kernels = [...this.kernels, { summary, name: summary.name }];
    this.chosenKernel = known < 0 ? this.kernels.length - 1 : known;
  }

  /** Saves a kernel file where the user wants it: a download (the browser, or Electron's save dialog). */
  async exportKernel(entry: KernelEntry): Promise<void> {
    try {
      const name = entry.name.trim() || undefined;
      const file = await api.call('exportKernel', { path: entry.summary.kernelPath, name });
      const url = URL.createObjectURL(new Blob([file.text], { type: 'application/json' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = file.fileName;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      this.report(`Could not export the kernel ${entry.name}`, error);
    }
  }

  /** Removes a kernel from the library; its file is deleted only if it is the app's copy (workspace). */
  async deleteKernel(entry: KernelEntry): Promise<void> {
    try {
      await api.call('deleteKernel', { path: entry.summary.kernelPath });
    } catch (error) {
      this.report(`Could not delete the file of ${entry.name}`, error);
    }
    const index = this.kernels.indexOf(entry);
    if (index < 0) return;
    this.kernels = this.kernels.filter((_, i) => i !== index);
    if (this.chosenKernel > index || this.chosenKernel >= this.kernels.length)
      this.chosenKernel = Math.max(0, this.chosenKernel - 1);
    if (!this.kernels.length) this.traceGrid = false;
  }

  /** What is saved: paths and labels only (previews are made again from the files). */
  snapshot(): Session {
    return {
      photos: this.photos.map((photo) => ({
        versions: photo.versions.map((version) => ({ path: version.preview.path, label: version.label })),
        shown: photo.shown,
      })),
      selected: this.selected,
      kernels: this.kernels.map((entry) => ({ path: entry.summary.kernelPath, name: entry.name })),
    };
  }

  private save(session: Session): void {
    // One save at a time, in order: the last one wins.
    this.saving = this.saving
      .then(() => api.call('saveSession', { session }))
      .then(
        () => undefined,
        (error: unknown) => this.report('Could not save the library', error),
      );
  }

  /** A saved photo with the versions that still open; null when its original does not. */
  private async reopenPhoto(saved: Session['photos'][number], lost: string[]): Promise<LibraryPhoto | null> {
    const versions: Version[] = [];
    for (const version of saved.versions) {
      try {
        versions.push({ preview: await api.call('openPhoto', { path: version.path }), label: version.label });
      } catch (error) {
        lost.push(`${version.label} (${describeError(error)})`);
        if (!versions.length) return null; // without its original a photo is not restored
      }
    }
    const shownPath = saved.versions[saved.shown]?.path;
    return {
      versions,
      shown: Math.max(
        0,
        versions.findIndex((v) => v.preview.path === shownPath),
      ),
    };
  }

  /** Reads the saved library back: photos (with their versions) and kernels, leaving out what is gone. */
  async restore(): Promise<void> {
    try {
      const { session, dropped } = await api.call('loadSession', {});
      const lost = [...dropped];
      const photos: LibraryPhoto[] = [];
      let selected = 0;
      for (const [index, saved] of session.photos.entries()) {
        if (photos.some((photo) => photo.versions[0].preview.path === saved.versions[0].path)) continue;
        const photo = await this.reopenPhoto(saved, lost);
        if (!photo) continue;
        if (index === session.selected) selected = photos.length;
        photos.push(photo);
      }
      const kernels: KernelEntry[] = [];
      for (const saved of session.kernels) {
        if (kernels.some((entry) => entry.summary.kernelPath === saved.path)) continue;
        try {
          kernels.push({ summary: await api.call('openKernel', { path: saved.path }), name: saved.name });
        } catch (error) {
          lost.push(`${saved.name} (${describeError(error)})`);
        }
      }
      // Photos or kernels opened while this ran stay, after the restored ones.
      const original = (photo: LibraryPhoto): string => photo.versions[0].preview.path;
      const kernelPath = (entry: KernelEntry): string => entry.summary.kernelPath;
      this.photos = [
        ...photos,
        ...this.photos.filter((p) => !photos.some((r) => original(r) === original(p))),
      ];
      this.kernels = [
        ...kernels,
        ...this.kernels.filter((k) => !kernels.some((r) => kernelPath(r) === kernelPath(k))),
      ];
      this.selected = this.photos.length > photos.length ? photos.length : selected;
      if (lost.length) {
        this.notify(
          `Some of your library could not be restored (the files are gone or unreadable): ${lost.join('; ')}.`,
        );
      }
    } catch (error) {
      this.report('Could not read the saved library', error);
    } finally {
      this.restored = true;
    }
  }
}

export const app = new AppState();
