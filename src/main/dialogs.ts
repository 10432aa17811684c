// The desktop app's native dialogs and "Show in folder" (DIALOG_CALLS in the API), answered in the Electron
// main process. A
// folder the user picks here, or the folder of the file they choose to save, becomes an allowed output
// folder of the engine host for the rest of the run.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { dialog, shell, type BrowserWindow } from 'electron';
import {
  DIALOG_CALLS,
  dispatch,
  parseCall,
  type ApiCalls,
  type CallHandlers,
  type DialogCallName,
} from '../common/api';
import type { EngineHost } from '../host/engine-host';
import { isInside } from '../engine/core/fs-atomic';

const PHOTOS = { name: 'Photos', extensions: ['jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp', 'gif', 'avif'] };
const ANY_FILE = { name: 'All files', extensions: ['*'] };

export function isDialogCall(method: unknown): method is DialogCallName {
  return (DIALOG_CALLS as readonly unknown[]).includes(method);
}

export async function answerDialog(
  window: BrowserWindow,
  engine: EngineHost,
  method: DialogCallName,
  params: unknown,
): Promise<unknown> {
  return dispatch(dialogHandlers(window, engine), parseCall(method, params));
}

function dialogHandlers(
  window: BrowserWindow,
  engine: EngineHost,
): CallHandlers<Pick<ApiCalls, DialogCallName>> {
  return {
    chooseOutputFolder: async ({ title, defaultPath }) => {
      const chosen = await dialog.showOpenDialog(window, {
        title: title ?? 'Choose an output folder',
        defaultPath,
        properties: ['openDirectory', 'createDirectory'],
      });
      const folder = chosen.canceled ? undefined : chosen.filePaths[0];
      if (folder) engine.grantOutputFolder(folder);
      return { path: folder ?? null };
    },
    chooseSavePath: async ({ title, defaultPath, filters }) => {
      const chosen = await dialog.showSaveDialog(window, {
        title: title ?? 'Save as',
        defaultPath,
        filters,
        properties: ['createDirectory', 'showOverwriteConfirmation'],
      });
      if (chosen.canceled || !chosen.filePath) return { path: null };
      engine.grantOutputFolder(path.dirname(chosen.filePath));
      return { path: chosen.filePath };
    },
    // Windows and Linux cannot offer files and folders in one dialog: the caller says which.
    choosePhotos: async ({ folder, expand }) => {
      const chosen = await dialog.showOpenDialog(
        window,
        folder
          ? { title: 'Choose folders of photos', properties: ['openDirectory', 'multiSelections'] }
          : {
              title: 'Open photos',
              properties: ['openFile', 'multiSelections'],
              filters: [PHOTOS, ANY_FILE],
            },
      );
      if (chosen.canceled) return { paths: [] };
      return { paths: folder && expand ? await photosIn(chosen.filePaths) : chosen.filePaths };
    },
    // Only results: a file in the workspace or a folder the app may write to, never any path.
    showInFolder: ({ path: target }) => {
      const file = path.resolve(target);
      if (!engine.outputFolders().some((root) => isInside(path.resolve(root), file, false))) {
        throw new Error(`“${target}” is not in a folder Blurspace writes to.`);
      }
      shell.showItemInFolder(file);
      return {};
    },
  };
}

/** The photos directly inside `folders` (by name, hidden files left out), for opening a folder. */
async function photosIn(folders: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const folder of folders) {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const extension = path.extname(entry.name).slice(1).toLowerCase();
      if (entry.isFile() && !entry.name.startsWith('.') && PHOTOS.extensions.includes(extension)) {
        found.push(path.join(folder, entry.name));
      }
    }
  }
  return found;
}
