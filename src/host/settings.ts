// User settings, kept as JSON in the app's configuration folder and written atomically.
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SETTINGS, Settings } from '../common/api';

export class SettingsStore {
  private current: Settings;

  private constructor(
    private readonly file: string | null,
    initial: Settings,
  ) {
    this.current = initial;
  }

  /** Loads settings from `file`; a missing or unreadable file gives the defaults (never a crash). */
  static load(file: string | null): SettingsStore {
    let initial = DEFAULT_SETTINGS;
    if (file) {
      try {
        initial = Settings.parse({ ...DEFAULT_SETTINGS, ...JSON.parse(readFileSync(file, 'utf8')) });
      } catch {
        initial = DEFAULT_SETTINGS;
      }
    }
    return new SettingsStore(file, initial);
  }

  get(): Settings {
    return this.current;
  }

  async update(patch: Partial<Settings>): Promise<Settings> {
    this.current = Settings.parse({ ...this.current, ...patch });
    if (this.file) {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      const temp = `${this.file}.${process.pid}.tmp`;
      await fs.writeFile(temp, JSON.stringify(this.current, null, 2));
      await fs.rename(temp, this.file);
    }
    return this.current;
  }
}

/** Where the CLI and the web bridge keep settings (Electron uses its own userData folder). */
export function defaultConfigDir(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'blurspace');
}

/** Where the CLI and the web bridge keep results (Electron uses its userData folder). */
export function defaultDataDir(): string {
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'blurspace');
}
