import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  loadCheckpointFile,
  saveBlurspaceCheckpoint,
  writeSafetensors,
  type NamedTensor,
} from '../../src/engine/checkpoint';
import { expectMatchesFixture, fixture, PWNED_MARKER } from './checkpoint-fixtures';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blurspace-checkpoint-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const weights = (): Map<string, NamedTensor> =>
  new Map([
    ['G.conv.weight', { shape: [2, 1, 1, 1], data: Float32Array.from([0.5, -1.25]) }],
    ['F.bias', { shape: [3], data: Float32Array.from([1, 2, 3]) }],
  ]);

function write(name: string, content: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function loadError(path: string): Promise<CheckpointError> {
  try {
    await loadCheckpointFile(path);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('loadCheckpointFile', () => {
  it('loads a Blurspace checkpoint with its config, training state and file hash', async () => {
    const path = join(dir, 'mine.safetensors');
    const config = { nf: 64, backRBlocks: [4, 8], kernelDim: 512 };
    const training = { epoch: 12, lr: 1e-4 };
    await saveBlurspaceCheckpoint(path, weights(), config, training);

    const loaded = await loadCheckpointFile(path);
    expect(loaded.source).toBe('blurspace');
    expect(loaded.config).toEqual(config);
    expect(loaded.training).toEqual(training);
    expect(loaded.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
    expect([...loaded.tensors.keys()]).toEqual(['G.conv.weight', 'F.bias']);
    expect(Array.from(loaded.tensors.get('G.conv.weight')!.data)).toEqual([0.5, -1.25]);
  });

  it('omits training when the checkpoint has none', async () => {
    const path = join(dir, 'mine.safetensors');
    await saveBlurspaceCheckpoint(path, weights(), { nf: 64 });
    expect('training' in (await loadCheckpointFile(path))).toBe(false);
  });

  it('loads the authors’ PyTorch .pth files', async () => {
    const loaded = await loadCheckpointFile(fixture('wrapped_state_dict.pth'));
    expect(loaded.source).toBe('pytorch');
    expect(loaded.config).toBeUndefined();
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
    expectMatchesFixture(loaded.tensors, 'wrapped_state_dict');
  });

  it('explains a missing file, an empty file and a folder', async () => {
    const missing = await loadError(join(dir, 'nope.pth'));
    expect(missing.reason).toBe('missing');
    expect(missing.message).toContain('nope.pth does not exist');

    const empty = await loadError(write('empty.pth', ''));
    expect(empty.reason).toBe('empty');
    expect(empty.message).toBe(
      'The checkpoint file empty.pth is empty (0 bytes); the download or copy probably failed. Download it again.',
    );

    expect((await loadError(dir)).reason).toBe('not-a-checkpoint');
  });

  it('explains a truncated .pth and a truncated safetensors file', async () => {
    const pth = await loadError(fixture('truncated.pth'));
    expect(pth.reason).toBe('truncated');
    expect(pth.message).toBe(
      'Cannot load truncated.pth. The file is incomplete (the zip directory at the end of the file is missing). ' +
        'The download or copy was probably interrupted: download it again.',
    );

    const full = join(dir, 'full.safetensors');
    await saveBlurspaceCheckpoint(full, weights(), {});
    const bytes = readFileSync(full);
    const cut = await loadError(write('cut.safetensors', bytes.subarray(0, bytes.length - 5)));
    expect(cut.reason).toBe('truncated');
    expect(cut.message).toMatch(
      /^Cannot load cut\.safetensors\. The file is incomplete \(tensor F\.bias needs/,
    );
    const header = await loadError(write('header.safetensors', bytes.subarray(0, 40)));
    expect(header.message).toContain('The file is incomplete (its header claims');
  });

  it('explains corrupt data: bad CRC, failed inflate and bad header JSON', async () => {
    const crc = await loadError(fixture('corrupt.pth'));
    expect(crc.reason).toBe('corrupt');
    expect(crc.message).toBe(
      'Cannot load corrupt.pth. The file is damaged (checksum mismatch in basic/data/0). Download it again.',
    );

    // Garbage in the middle of a deflated entry: either inflate fails or the CRC no longer matches.
    const deflated = readFileSync(fixture('deflated.pth'));
    const pickleStart = deflated.indexOf('basic/data.pkl') + 'basic/data.pkl'.length;
    deflated.fill(0xff, pickleStart + 10, pickleStart + 40);
    const inflate = await loadError(write('deflated.pth', deflated));
    expect(inflate.reason).toBe('corrupt');
    expect(inflate.message).toMatch(
      /basic\/data\.pkl cannot be decompressed|checksum mismatch in basic\/data\.pkl/,
    );

    const header = Buffer.from('{"a": [1, 2');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    const json = await loadError(write('json.safetensors', Buffer.concat([prefix, header])));
    expect(json.reason).toBe('corrupt');
    expect(json.message).toBe(
      'Cannot load json.safetensors. The file is damaged (its header is not valid JSON). Download it again.',
    );
  });

  it('loads legacy (pre-1.6) .pth files too', async () => {
    const loaded = await loadCheckpointFile(fixture('legacy.pth'));
    expect(loaded.source).toBe('pytorch');
    expectMatchesFixture(loaded.tensors, 'legacy');
  });

  it('recognises files that are not checkpoints at all', async () => {
    const jpeg = await loadError(
      write('photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46])),
    );
    expect(jpeg.reason).toBe('not-a-checkpoint');
    expect(jpeg.message).toBe(
      'Cannot load photo.jpg. This is not a model checkpoint but a JPEG image. ' +
        'Choose a Blurspace .safetensors checkpoint or a KernelWizard .pth file.',
    );
    const text = await loadError(write('notes.txt', 'These are my notes about {deblurring}.\n'));
    expect(text.message).toContain('This is not a model checkpoint but a text file.');
    const binary = await loadError(write('blob.bin', Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])));
    expect(binary.message).toContain('an unrecognised kind of file');
  });

  it('rejects a zip that is not a torch checkpoint and a pth that holds no weights', async () => {
    const entries = readFileSync(fixture('malicious_os_system.pth'));
    const renamed = Buffer.from(
      entries.toString('latin1').replaceAll('archive/data.pkl', 'archive/other.pk'),
      'latin1',
    );
    const zip = await loadError(write('other.zip', renamed));
    expect(zip.reason).toBe('not-a-checkpoint');
    expect(zip.message).toContain('This is a zip archive, but not a PyTorch checkpoint');

    const empty = await loadError(fixture('no_weights.pth'));
    expect(empty.reason).toBe('not-a-checkpoint');
    expect(empty.message).toBe(
      'Cannot load no_weights.pth. This PyTorch file contains no network weights (it holds: epoch, optimizer). ' +
        'Choose the checkpoint file of the model instead.',
    );
  });

  it('rejects safetensors files that are not Blurspace checkpoints or come from a newer version', async () => {
    const foreign = await loadError(fixture('foreign.safetensors'));
    expect(foreign.reason).toBe('unsupported');
    expect(foreign.message).toContain('not a Blurspace checkpoint');

    const newer = join(dir, 'newer.safetensors');
    await writeSafetensors(newer, weights(), {
      format: 'blurspace-kernelwizard',
      format_version: '2',
      config: '{}',
    });
    expect((await loadError(newer)).message).toContain('format version 2');

    const noConfig = join(dir, 'noconfig.safetensors');
    await writeSafetensors(noConfig, weights(), { format: 'blurspace-kernelwizard', format_version: '1' });
    expect((await loadError(noConfig)).message).toContain('its model config is missing');

    const badConfig = join(dir, 'badconfig.safetensors');
    const metadata = { format: 'blurspace-kernelwizard', format_version: '1', config: '{nf: 64' };
    await writeSafetensors(badConfig, weights(), metadata);
    expect((await loadError(badConfig)).message).toContain('its config metadata is not valid JSON');
  });

  it('refuses a pickle with an unexpected global without executing it', async () => {
    rmSync(PWNED_MARKER, { force: true });
    const error = await loadError(fixture('malicious_os_system.pth'));
    expect(error.reason).toBe('unsafe');
    expect(error.message).toContain(
      'Cannot load malicious_os_system.pth. Refusing to load: the checkpoint references os.system, ' +
        'which a state_dict never needs.',
    );
    expect(existsSync(PWNED_MARKER)).toBe(false);
  });
});
