// Full-resolution regions fetched from the engine, remembered (LRU) so panning back costs nothing.
import type { Rect } from './view';
import { api } from './api';

const MAX_ENTRIES = 300;

export interface RegionRequest extends Rect {
  outWidth: number;
  outHeight: number;
}

export class RegionCache {
  private readonly entries = new Map<string, Promise<string>>();

  get(path: string, region: RegionRequest): Promise<string> {
    const key = `${path}\0${region.x},${region.y},${region.width},${region.height}>${region.outWidth}x${region.outHeight}`;
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    else {
      entry = api.call('photoRegion', { path, ...region }).then((result) => result.dataUrl);
      entry.catch(() => this.entries.delete(key));
    }
    this.entries.set(key, entry);
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }
}

export const regions = new RegionCache();
