// Our Node range must not promise a version that the toolchain refuses: every version we accept has to satisfy
// each tool's own `engines.node`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths';

const TOOLCHAIN = [
  'electron',
  '@electron/get',
  '@electron/rebuild',
  'electron-vite',
  'vite',
  'electron-builder',
];

function nodeRange(packageDir: string): string {
  const pkg = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    engines?: { node?: string };
  };
  return pkg.engines?.node ?? '*';
}

const ours = nodeRange(REPO_ROOT);

describe('engines.node', () => {
  it('is a valid range', () => {
    expect(semver.validRange(ours)).not.toBeNull();
  });

  it.each(TOOLCHAIN)('is within what %s accepts', (name) => {
    const theirs = nodeRange(path.join(REPO_ROOT, 'node_modules', name));
    expect(semver.subset(ours, theirs), `ours ${ours}, ${name} ${theirs}`).toBe(true);
  });
});
