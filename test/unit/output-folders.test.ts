import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSpec } from '../../src/common/api';
import { isInside } from '../../src/engine/core/fs-atomic';
import { OutputFolders, realLocation } from '../../src/host/output-folders';

describe('output folders', () => {
  // <base>/workspace (not created yet), <base>/Granted, <base>/outside, and links between them.
  let base: string;
  let workspace: string;
  let granted: string;
  let outside: string;
  let folders: OutputFolders;
  const refused = /only writes into its workspace and the folders you allowed/;

  beforeAll(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'blurspace-outputs-')));
    workspace = path.join(base, 'workspace');
    granted = path.join(base, 'Granted');
    outside = path.join(base, 'outside');
    await mkdir(granted);
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), 'keep me');
    await symlink(outside, path.join(granted, 'to-outside'));
    await symlink(path.join(outside, 'secret.txt'), path.join(granted, 'secret-link.png'));
    await symlink(path.join(outside, 'nothing-here'), path.join(granted, 'dangling.png'));
    await mkdir(path.join(granted, 'deep', 'er'), { recursive: true });
    await symlink(path.join(granted, 'deep', 'er'), path.join(granted, 'inner-link'));
    folders = new OutputFolders(workspace);
    folders.grant(granted);
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  it('lists the workspace first, then the granted folders (each once)', () => {
    folders.grant(granted + path.sep);
    expect(folders.list()).toEqual([workspace, granted]);
  });

  it('allows files inside the workspace (even before it exists) and inside a granted folder', async () => {
    expect(await folders.check(path.join(workspace, 'a.png'), 'file')).toBe(path.join(workspace, 'a.png'));
    expect(await folders.check(path.join(granted, 'a.png'), 'file')).toBe(path.join(granted, 'a.png'));
  });

  it('allows a folder that does not exist yet, nested inside an allowed one, and the folder itself', async () => {
    const nested = path.join(granted, 'new', 'deeper', 'batch');
    expect(await folders.check(nested, 'folder')).toBe(nested);
    expect(await folders.check(path.join(nested, 'x.jpg'), 'file')).toBe(path.join(nested, 'x.jpg'));
    expect(await folders.check(granted, 'folder')).toBe(granted);
  });

  it('refuses paths outside, and a file in place of an allowed folder, telling what to do', async () => {
    await expect(folders.check(path.join(outside, 'a.png'), 'file')).rejects.toThrow(refused);
    await expect(folders.check(outside, 'folder')).rejects.toThrow(/Choose a path inside one of them/);
    await expect(folders.check('/', 'folder')).rejects.toThrow(refused);
    await expect(folders.check(granted, 'file')).rejects.toThrow(refused);
    await expect(folders.check(`${granted}-sibling`, 'folder')).rejects.toThrow(refused);
    await expect(folders.check('relative/a.png', 'file')).rejects.toThrow(/is not a full path/);
  });

  it('refuses `..` escapes, however deep, through existing and new folders', async () => {
    await expect(folders.check(path.join(granted, '..', 'outside', 'a.png'), 'file')).rejects.toThrow(
      refused,
    );
    const raw = `${granted}/new/../../outside/a.png`;
    await expect(folders.check(raw, 'file')).rejects.toThrow(refused);
    // `..` that stays inside is fine, and the engine gets the path without it.
    expect(await folders.check(`${granted}/deep/../b.png`, 'file')).toBe(path.join(granted, 'b.png'));
  });

  it('follows links: out of an allowed folder is refused, a link to a file outside too', async () => {
    await expect(folders.check(path.join(granted, 'to-outside', 'a.png'), 'file')).rejects.toThrow(refused);
    await expect(folders.check(path.join(granted, 'to-outside'), 'folder')).rejects.toThrow(refused);
    await expect(folders.check(path.join(granted, 'secret-link.png'), 'file')).rejects.toThrow(refused);
    await expect(folders.check(path.join(granted, 'dangling.png'), 'file')).rejects.toThrow(
      /is a link to something that does not exist/,
    );
  });

  it('resolves `..` after a link where the file system would (not textually)', async () => {
    // inner-link -> Granted/deep/er, so inner-link/../../x is Granted/x (textually it would be outside).
    const through = `${granted}/inner-link/../../x.png`;
    expect(await folders.check(through, 'file')).toBe(path.join(granted, 'x.png'));
    // A granted link itself is followed: its target is what is allowed.
    const viaLink = new OutputFolders(workspace);
    viaLink.grant(path.join(granted, 'to-outside'));
    expect(await viaLink.check(path.join(granted, 'to-outside', 'r.png'), 'file')).toBe(
      path.join(outside, 'r.png'),
    );
  });

  it('takes a granted folder as the file system spells it (this one is case-sensitive)', async () => {
    const lower = path.join(base, 'granted', 'a.png');
    const caseInsensitive = await realLocation(lower).then(
      (real) => real.startsWith(granted),
      () => false,
    );
    if (caseInsensitive) expect(await folders.check(lower, 'file')).toBe(path.join(granted, 'a.png'));
    else await expect(folders.check(lower, 'file')).rejects.toThrow(refused);
  });

  it('checks the write target of every job kind, and rewrites it to its real location', async () => {
    const out = (name: string): string => path.join(outside, name);
    const jobs = [
      { kind: 'deblur', photoPath: out('p.jpg'), outputPath: out('d.jpg') },
      { kind: 'exportPhoto', sourcePath: out('p.jpg'), outputPath: out('e.jpg') },
      { kind: 'extractKernel', sharpPath: out('s.png'), blurryPath: out('b.png'), outputPath: out('k') },
      { kind: 'applyKernel', photoPath: out('p.jpg'), kernelPath: out('k'), outputPath: out('a.jpg') },
      { kind: 'batch', inputs: [out('p.jpg')], outDir: out('batch'), preset: { kind: 'export' } },
    ].map((spec) => JobSpec.parse(spec));
    for (const spec of jobs) await expect(folders.allow(spec)).rejects.toThrow(refused);

    const speedTest = JobSpec.parse({ kind: 'speedTest', iterations: 1 });
    expect(await folders.allow(speedTest)).toBe(speedTest);
    const inside = JobSpec.parse({
      kind: 'batch',
      inputs: [out('p.jpg')],
      outDir: `${granted}/inner-link/../batch`,
      preset: { kind: 'export' },
    });
    expect(await folders.allow(inside)).toMatchObject({ outDir: path.join(granted, 'deep', 'batch') });
  });

  it('isInside compares whole path segments', () => {
    expect(isInside('/a/b', '/a/b/c', false)).toBe(true);
    expect(isInside('/a/b', '/a/b', false)).toBe(false);
    expect(isInside('/a/b', '/a/b', true)).toBe(true);
    expect(isInside('/a/b', '/a/bc', true)).toBe(false);
    expect(isInside('/a/b', '/a/b/..hidden', false)).toBe(true);
    expect(isInside('/a/b', '/a', true)).toBe(false);
  });
});
