// The library as the user left it — opened photos with their versions, and the kernel library — kept as
// JSON in the workspace so it survives a reload or a restart. Only paths and labels are stored: previews
// are made anew from the files, and originals are never touched. Written atomically.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { EMPTY_SESSION, Session } from '../common/api';
import { writeFileAtomic } from './core/fs-atomic';

export const SESSION_FILE = 'session.json';

export interface LoadedSession {
  session: Session;
  /** What was left out, one readable line each (files that no longer exist, an unreadable file). */
  dropped: string[];
}

/**
 * Reads the saved session; a missing file is an empty session. Photos whose original is gone are left
 * out (with their versions); so are versions and kernels whose files are gone. Never throws for a damaged
 * file: it starts empty and says so.
 */
export async function loadSession(file: string): Promise<LoadedSession> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { session: EMPTY_SESSION, dropped: [] };
    return { session: EMPTY_SESSION, dropped: [`the saved library (${(error as Error).message})`] };
  }
  let parsed: Session;
  try {
    parsed = Session.parse(JSON.parse(text));
  } catch {
    return { session: EMPTY_SESSION, dropped: [`the saved library (${file} is damaged; starting empty)`] };
  }
  const dropped: string[] = [];
  const photos: Session['photos'] = [];
  let selected = 0;
  parsed.photos.forEach((photo, index) => {
    const [original, ...results] = photo.versions;
    if (!existsSync(original.path)) {
      dropped.push(`${path.basename(original.path)} (photo, with ${results.length} versions)`);
      return;
    }
    const shownPath = photo.versions[photo.shown]?.path;
    const versions = [original];
    for (const version of results) {
      if (existsSync(version.path)) versions.push(version);
      else dropped.push(`${version.label} of ${path.basename(original.path)} (version)`);
    }
    const shown = Math.max(
      0,
      versions.findIndex((version) => version.path === shownPath),
    );
    if (index === parsed.selected) selected = photos.length;
    photos.push({ versions, shown });
  });
  const kernels = parsed.kernels.filter((kernel) => {
    if (existsSync(kernel.path)) return true;
    dropped.push(`${kernel.name} (kernel)`);
    return false;
  });
  return { session: { photos, selected, kernels }, dropped };
}

export async function saveSession(file: string, session: Session): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(Session.parse(session), null, 1));
}
