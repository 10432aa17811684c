// The shipped checkpoints match resources/checkpoints/SHA256SUMS (`sha256sum -c SHA256SUMS` checks the
// same): every checkpoint is listed, every listed file exists, and its bytes hash to the listed digest.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths';

const CHECKPOINTS = path.join(REPO_ROOT, 'resources', 'checkpoints');

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest's entries, file name -> digest; a malformed or repeated line fails the test. */
async function readManifest(): Promise<Map<string, string>> {
  const text = await readFile(path.join(CHECKPOINTS, 'SHA256SUMS'), 'utf8');
  const entries = new Map<string, string>();
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    // sha256sum writes "<digest>  <name>" (text mode) or "<digest> *<name>" (binary mode).
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    expect(match, `malformed line in SHA256SUMS: ${line}`).not.toBeNull();
    const [, digest, name] = match!;
    expect(entries.has(name), `${name} is listed twice`).toBe(false);
    entries.set(name, digest);
  }
  return entries;
}

describe('shipped checkpoint manifest', () => {
  it('lists every checkpoint in resources/checkpoints', async () => {
    const manifest = await readManifest();
    const shipped = (await readdir(CHECKPOINTS)).filter((name) => name.endsWith('.safetensors'));
    expect(shipped.length).toBeGreaterThan(0);
    for (const name of shipped) expect(manifest.has(name), `${name} is missing from SHA256SUMS`).toBe(true);
  });

  it('names only files that exist, with their digests', async () => {
    const manifest = await readManifest();
    for (const [name, digest] of manifest) {
      const file = path.join(CHECKPOINTS, name);
      expect(path.dirname(file), `${name} points outside resources/checkpoints`).toBe(CHECKPOINTS);
      expect(existsSync(file), `${name} is listed but missing`).toBe(true);
      expect(await sha256(file), `${name} does not match its digest`).toBe(digest);
    }
  });
});
