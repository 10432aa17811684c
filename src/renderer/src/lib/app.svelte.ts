// The app's state: opened photos with their versions, kernels, engine status and messages.
import type { EngineEvent, EngineInfo, KernelSummary, PhotoPreview, Region } from '../../../common/api';
import { api } from './api';

export interface Version {
  preview: PhotoPreview;
  /** How it was made, e.g. "kernel: blur1 (spatial)". */
  label: string;
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

export interface Message {
  id: number;
  text: string;
}

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
  messages = $state<Message[]>([]);
  compare = $state<CompareMode>('single');
  /** Where deblurring estimates the blur, in photo pixels of the selected photo. */
  roi = $state<Region | null>(null);
  drawingRoi = $state(false);

  current = $derived<LibraryPhoto | null>(this.photos[this.selected] ?? null);

  constructor() {
    api.onEvent((event) => this.onEngineEvent(event));
  }

  report(context: string, error: unknown): void {
    this.messages = [...this.messages, { id: nextMessageId++, text: `${context}: ${describeError(error)}` }];
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

  async openFiles(files: Iterable<File>): Promise<void> {
    for (const file of files) {
      this.opening++;
      try {
        const preview = await api.call('openPhoto', { path: await api.pathForFile(file) });
        this.photos = [...this.photos, { versions: [{ preview, label: 'Original' }], shown: 0 }];
        this.select(this.photos.length - 1);
      } catch (error) {
        this.report(`Could not open ${file.name}`, error);
      } finally {
        this.opening--;
      }
    }
  }

  select(index: number): void {
    if (index < 0 || index >= this.photos.length || index === this.selected) return;
    this.selected = index;
    this.roi = null;
    this.drawingRoi = false;
    if (this.photos[index].versions.length < 2) this.compare = 'single';
  }

  /** Opens a result file the engine wrote and adds it as the newest version of `photo`. */
  async addVersion(photo: LibraryPhoto, path: string, label: string): Promise<void> {
    const preview = await api.call('openPhoto', { path });
    photo.versions.push({ preview, label });
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
}

export const app = new AppState();
