// Every case of the bad-input corpus through the photo reader, the model loader and a batch: each is
// accepted or refused with a clear message; nothing crashes, the batch always finishes.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSpec } from '../../src/common/api';
import { Engine } from '../../src/engine/engine';
import { readPhoto } from '../../src/engine/image';
import { loadModel } from '../../src/engine/model/model-store';
import { makeBadInputs, tryInput, type BadInput } from '../fixtures/bad-inputs';
import { REPO_ROOT } from '../helpers/paths';

describe('bad-input corpus', () => {
  let dir: string;
  let cases: BadInput[];
  let engine: Engine;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-bad-inputs-'));
    engine = await Engine.create({ backend: 'wasm', checkpointPath: null, defaultCheckpointPath: '' });
    cases = await makeBadInputs(path.join(dir, 'in'), path.join(REPO_ROOT, 'test', 'fixtures'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('has at least 40 cases, checkpoints among them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(cases.filter((c) => c.kind === 'checkpoint').length).toBeGreaterThanOrEqual(8);
  });

  it('the photo reader accepts the valid cases and refuses the others with a clear PhotoError', async () => {
    for (const input of cases.filter((c) => c.kind === 'photo')) {
      const { outcome, message } = await tryInput(input, (file) => readPhoto(file));
      expect({ name: input.name, outcome }).toEqual({
        name: input.name,
        outcome: input.valid ? 'accepted' : 'clear error',
      });
      if (!input.valid) expect(message.length, input.name).toBeGreaterThan(20);
    }
  });

  it('the model loader refuses every bad checkpoint with a clear CheckpointError', async () => {
    for (const input of cases.filter((c) => c.kind === 'checkpoint')) {
      const { outcome } = await tryInput(input, async (file) => (await loadModel(file)).model.dispose());
      expect({ name: input.name, outcome }).toEqual({
        name: input.name,
        outcome: input.valid ? 'accepted' : 'clear error',
      });
    }
  });

  it('a batch over the whole corpus finishes, with a reason for every refused photo', async () => {
    const photos = cases.filter((c) => c.kind === 'photo');
    const spec = JobSpec.parse({
      kind: 'batch',
      inputs: [...photos.map((c) => c.file), photos[0]!.file], // the same file twice, too
      outDir: path.join(dir, 'out'),
      preset: { kind: 'export' },
      output: { format: 'png' },
    });
    const result = await engine.runJob(spec, new AbortController().signal, () => undefined);
    if (result.kind !== 'batch') throw new Error('not a batch result');
    const valid = photos.filter((c) => c.valid).length;
    // A folder named like a photo is a folder to the batch: scanned (it is empty), not an item.
    const items = photos.filter((c) => c.name !== 'folder-named.jpg').length;
    expect(result.counts.total).toBe(items);
    expect(result.counts.done).toBe(valid);
    expect(result.counts.failed).toBe(items - valid);
    expect(result.problems.every((p) => (p.reason ?? '').length > 10)).toBe(true);
  });
});
