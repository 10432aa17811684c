import { existsSync, readFileSync, rmSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { unpickle } from '../../src/engine/checkpoint/pickle';
import { parsePth } from '../../src/engine/checkpoint/pth';
import { expectMatchesFixture, fixture, PWNED_MARKER } from './checkpoint-fixtures';

const load = (name: string) => parsePth(readFileSync(fixture(`${name}.pth`)));

function thrown(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('parsePth', () => {
  it('reads a plain state_dict and leaves out integer tensors such as num_batches_tracked', () => {
    const tensors = load('basic');
    expectMatchesFixture(tensors, 'basic');
    expect(tensors.has('1.num_batches_tracked')).toBe(false);
    expect(tensors.get('0.weight')!.shape).toEqual([4, 3, 3, 3]);
  });

  it('converts float16, bfloat16 and float64 to float32, including scalars and empty tensors', () => {
    const tensors = load('dtypes');
    expectMatchesFixture(tensors, 'dtypes');
    expect(tensors.get('scalar')!.shape).toEqual([]);
    expect(tensors.has('index')).toBe(false);
  });

  it('makes transposed, strided, expanded and storage-sharing views contiguous', () => {
    expectMatchesFixture(load('views'), 'views');
  });

  it('strips the DataParallel module. prefix', () => {
    expectMatchesFixture(load('module_prefix'), 'module_prefix');
  });

  it.each(['wrapped_state_dict', 'wrapped_params'])('unwraps %s', (name) => {
    expectMatchesFixture(load(name), name);
  });

  it('reads nn.Parameter values (_rebuild_parameter)', () => {
    expectMatchesFixture(load('parameters'), 'parameters');
  });

  it('reads the legacy (PyTorch < 1.6) non-zip format', () => {
    expectMatchesFixture(load('legacy'), 'legacy');
    expectMatchesFixture(load('legacy_views'), 'legacy_views');
  });

  it('rejects a truncated legacy file and a pickle that is not a PyTorch checkpoint', () => {
    const legacy = readFileSync(fixture('legacy.pth'));
    for (const length of [10, 200, legacy.length - 100]) {
      expect(thrown(() => parsePth(legacy.subarray(0, length))).reason).toBe('truncated');
    }
    const error = thrown(() => parsePth(Buffer.from([0x80, 2, 0x4b, 1, 0x2e])));
    expect(error.reason).toBe('not-a-checkpoint');
    expect(error.message).toBe('This is a Python pickle file, but not a PyTorch checkpoint.');
  });

  it('reads deflated zip entries and zip64 size and offset fields', () => {
    expectMatchesFixture(load('deflated'), 'basic');
    expectMatchesFixture(load('zip64'), 'basic');
  });

  it('returns contiguous float32 storages as views of the file buffer instead of copies', () => {
    const buffer = readFileSync(fixture('basic.pth'));
    expect(parsePth(buffer).get('0.weight')!.data.buffer).toBe(buffer.buffer);
  });

  describe('malicious pickles', () => {
    beforeAll(() => rmSync(PWNED_MARKER, { force: true }));

    it('refuses os.system and names it', () => {
      const error = thrown(() => load('malicious_os_system'));
      expect(error.reason).toBe('unsafe');
      expect(error.message).toMatch(
        /^Refusing to load: the checkpoint references os\.system, which a state_dict never needs\./,
      );
      expect(existsSync(PWNED_MARKER)).toBe(false);
    });

    it('refuses builtins.eval reached through STACK_GLOBAL inside an otherwise valid state_dict', () => {
      const error = thrown(() => load('malicious_eval'));
      expect(error.reason).toBe('unsafe');
      expect(error.message).toContain('references builtins.eval, which a state_dict never needs');
      expect(existsSync(PWNED_MARKER)).toBe(false);
    });
  });

  it('rejects a truncated archive and a CRC mismatch', () => {
    expect(thrown(() => load('truncated')).reason).toBe('truncated');
    const error = thrown(() => load('corrupt'));
    expect(error.reason).toBe('corrupt');
    expect(error.message).toContain('checksum mismatch in basic/data/0');
  });
});

describe('unpickle', () => {
  const hooks = {
    findGlobal: (module: string, name: string) => {
      throw new Error(`global ${module}.${name}`);
    },
    persistentLoad: () => null,
    build: () => undefined,
  };
  const bytes = (...parts: (number[] | string)[]) =>
    Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

  it('decodes the scalar and container opcodes torch.save emits', () => {
    // {'a': [1, -2, 70000, 2**70, 1.5, True, None, ('x', b'y')]}
    const pickle = bytes(
      [0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0],
      'a]q\x01(K\x01J',
      [0xfe, 0xff, 0xff, 0xff],
      'J',
      [0x70, 0x11, 0x01, 0],
      [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40],
      'G',
      [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
      [0x88],
      'N',
      [0x8c, 1],
      'x',
      [0x43, 1],
      'y',
      [0x86],
      'es.',
    );
    const value = unpickle(pickle, hooks) as Map<string, unknown>;
    expect(value.get('a')).toEqual([
      1,
      -2,
      70000,
      2n ** 70n,
      1.5,
      true,
      null,
      ['x', Uint8Array.from([0x79])],
    ]);
  });

  it('rejects opcodes a state_dict never needs and truncated input', () => {
    expect(thrown(() => unpickle(bytes([0x80, 2], 'i os\nsystem\n'), hooks)).message).toContain(
      'opcode 0x69',
    );
    expect(thrown(() => unpickle(bytes([0x80, 2, 0x58, 9, 0, 0, 0], 'ab'), hooks)).reason).toBe('truncated');
  });
});
