// Folders of sharp/blurry photo pairs, as `blurspace pairs -o DIR` writes them and `blurspace augment`
// reads and writes them. Two layouts:
//   'suffix':  DIR/NAME_sharp.EXT beside DIR/NAME_blur.EXT
//   'folders': DIR/sharp/NAME.EXT beside DIR/blur/NAME.EXT (the authors' augmentation output, GoPro's layout)
// The two photos of a pair are matched by NAME; their extensions may differ.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isPhotoFile } from '../../common/formats';

export type PairLayout = 'suffix' | 'folders';

export const PAIR_SUFFIX = { sharp: '_sharp', blurry: '_blur' } as const;
export const PAIR_FOLDERS = { sharp: 'sharp', blurry: 'blur' } as const;

export const PAIR_LAYOUT_HELP =
  'name each pair NAME_sharp.EXT and NAME_blur.EXT, or put them in sharp/ and blur/ subfolders as ' +
  'sharp/NAME.EXT and blur/NAME.EXT';

export interface PairFiles {
  name: string;
  sharp: string;
  blurry: string;
}

const isPhotoName = (name: string): boolean => !name.startsWith('.') && isPhotoFile(name);

const listing = (names: string[]): string =>
  names.slice(0, 5).join(', ') + (names.length > 5 ? ` (and ${names.length - 5} more)` : '');

async function isFolder(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => null))?.isDirectory() ?? false;
}

/** The photo files directly in `dir` (hidden files and other files skipped), sorted by name. */
export async function listPhotoFiles(dir: string, what: string): Promise<string[]> {
  if (!(await isFolder(dir))) throw new Error(`${what} '${dir}' is not a folder.`);
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && isPhotoName(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => path.join(dir, name));
}

/** Photos keyed by NAME; a NAME found twice (a.png and a.jpg) is an error. */
function byName(files: string[], nameOf: (file: string) => string, where: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const file of files) {
    const name = nameOf(file);
    const other = map.get(name);
    if (other) {
      throw new Error(
        `${where}: ${path.basename(other)} and ${path.basename(file)} both claim the name "${name}"; ` +
          'keep one of them.',
      );
    }
    map.set(name, file);
  }
  return map;
}

/** Matches the pairs in `dir`; throws a readable error for an empty folder, strays and unmatched photos. */
export async function listPairs(dir: string): Promise<{ layout: PairLayout; pairs: PairFiles[] }> {
  const where = `The pairs folder '${dir}'`;
  if (!(await isFolder(dir))) throw new Error(`${where} is not a folder.`);
  const sharpDir = path.join(dir, PAIR_FOLDERS.sharp);
  const blurDir = path.join(dir, PAIR_FOLDERS.blurry);
  const [hasSharp, hasBlur] = [await isFolder(sharpDir), await isFolder(blurDir)];
  if (hasSharp !== hasBlur) {
    throw new Error(
      `${where} has a ${hasSharp ? 'sharp/' : 'blur/'} subfolder but no ${hasSharp ? 'blur/' : 'sharp/'}.`,
    );
  }
  const layout: PairLayout = hasSharp ? 'folders' : 'suffix';
  let sharp: Map<string, string>;
  let blurry: Map<string, string>;
  if (layout === 'folders') {
    const stem = (file: string): string => path.parse(file).name;
    sharp = byName(await listPhotoFiles(sharpDir, 'The folder'), stem, where);
    blurry = byName(await listPhotoFiles(blurDir, 'The folder'), stem, where);
  } else {
    const files = await listPhotoFiles(dir, 'The pairs folder');
    const tagged = (suffix: string): string[] => files.filter((f) => path.parse(f).name.endsWith(suffix));
    const untag = (suffix: string) => (file: string) => path.parse(file).name.slice(0, -suffix.length);
    sharp = byName(tagged(PAIR_SUFFIX.sharp), untag(PAIR_SUFFIX.sharp), where);
    blurry = byName(tagged(PAIR_SUFFIX.blurry), untag(PAIR_SUFFIX.blurry), where);
    const strays = files.filter((f) => ![...sharp.values(), ...blurry.values()].includes(f));
    if (strays.length > 0) {
      throw new Error(
        `${where}: cannot tell whether ${listing(strays.map((f) => path.basename(f)))} ` +
          `${strays.length === 1 ? 'is' : 'are'} sharp or blurry; ${PAIR_LAYOUT_HELP}.`,
      );
    }
  }
  const show = (file: string): string => path.relative(dir, file);
  const unmatched = [
    ...[...sharp].filter(([name]) => !blurry.has(name)).map(([, f]) => `${show(f)} (no blurry partner)`),
    ...[...blurry].filter(([name]) => !sharp.has(name)).map(([, f]) => `${show(f)} (no sharp partner)`),
  ];
  if (unmatched.length > 0) throw new Error(`${where} has unmatched photos: ${listing(unmatched)}.`);
  if (sharp.size === 0) throw new Error(`${where} holds no photo pairs: ${PAIR_LAYOUT_HELP}.`);
  const pairs = [...sharp.keys()]
    .sort()
    .map((name) => ({ name, sharp: sharp.get(name)!, blurry: blurry.get(name)! }));
  return { layout, pairs };
}

/** Where the two photos of pair `name` go in `dir` under `layout`. */
export function pairPaths(
  dir: string,
  layout: PairLayout,
  name: string,
  extension: string,
): { sharp: string; blurry: string } {
  return layout === 'folders'
    ? {
        sharp: path.join(dir, PAIR_FOLDERS.sharp, name + extension),
        blurry: path.join(dir, PAIR_FOLDERS.blurry, name + extension),
      }
    : {
        sharp: path.join(dir, name + PAIR_SUFFIX.sharp + extension),
        blurry: path.join(dir, name + PAIR_SUFFIX.blurry + extension),
      };
}
