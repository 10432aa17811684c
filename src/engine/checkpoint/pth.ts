import { DTYPE_SIZES, isFloatDtype, toFloat32, type Dtype } from './dtype';
import { CheckpointError, corrupt, truncated } from './errors';
import { unpickle, unpickleAt, type PyCallable } from './pickle';
import type { NamedTensor, StateDict } from './types';
import { ZIP_LOCAL_SIGNATURE, ZipArchive } from './zip';

class StorageType {
  constructor(readonly dtype: Dtype) {}
}

class StorageRef {
  constructor(
    readonly dtype: Dtype,
    readonly key: string,
    /** Elements into the stored data; only legacy files have storage views with a non-zero offset. */
    readonly offset: number,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly strides: number[],
  ) {}
}

const STORAGE_DTYPES: Readonly<Record<string, Dtype>> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** Containers that training scripts commonly wrap a state_dict in, most specific first. */
const WRAPPER_KEYS = ['state_dict', 'params', 'params_ema', 'model', 'net', 'network'];

const malformed = (what: string) => corrupt(`the weights index has ${what}`);

function isIndexList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && v >= 0);
}

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, shape, strides] = args;
  if (
    !(storage instanceof StorageRef) ||
    !Number.isSafeInteger(offset) ||
    !isIndexList(shape) ||
    !isIndexList(strides) ||
    shape.length !== strides.length
  ) {
    throw malformed('a malformed tensor');
  }
  return new TensorRef(storage, offset as number, shape, strides);
}

function rebuildParameter(args: unknown[]): TensorRef {
  if (!(args[0] instanceof TensorRef)) throw malformed('a malformed parameter');
  return args[0];
}

function newOrderedDict(args: unknown[]): Map<unknown, unknown> {
  const pairs = args[0] ?? [];
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) {
    throw malformed('a malformed OrderedDict');
  }
  return new Map(pairs as [unknown, unknown][]);
}

const ALLOWED_CALLABLES: Readonly<Record<string, PyCallable>> = {
  'collections.OrderedDict': newOrderedDict,
  'torch._utils._rebuild_tensor': rebuildTensor,
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_parameter': rebuildParameter,
  'torch._utils._rebuild_parameter_with_state': rebuildParameter,
};

function findGlobal(module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  if (Object.hasOwn(ALLOWED_CALLABLES, qualified)) return ALLOWED_CALLABLES[qualified];
  if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new StorageType(STORAGE_DTYPES[name]);
  throw new CheckpointError(
    'unsafe',
    `Refusing to load: the checkpoint references ${qualified}, which a state_dict never needs. ` +
      'Only plain weight files are accepted, as anything else could run code on this computer. ' +
      'If you made this file yourself, re-save just the weights with torch.save(model.state_dict(), path).',
  );
}

/** Zip files: ('storage', type, key, location, numel); legacy files add (view_key, offset, numel) or None. */
function persistentLoad(pid: unknown): StorageRef {
  if (
    !Array.isArray(pid) ||
    pid[0] !== 'storage' ||
    !(pid[1] instanceof StorageType) ||
    typeof pid[2] !== 'string'
  ) {
    throw malformed('an unknown kind of stored object');
  }
  const view: unknown = pid[5];
  if (view === undefined || view === null) return new StorageRef(pid[1].dtype, pid[2], 0);
  if (!Array.isArray(view) || !Number.isSafeInteger(view[1]) || view[1] < 0) {
    throw malformed('a malformed view');
  }
  return new StorageRef(pid[1].dtype, pid[2], view[1]);
}

/** BUILD only appears on a state_dict's OrderedDict, restoring its `_metadata` attribute, which we ignore. */
function build(target: unknown): void {
  if (!(target instanceof Map)) throw malformed('an object Blurspace cannot rebuild');
}

function hasTensors(value: unknown): value is Map<unknown, unknown> {
  return value instanceof Map && [...value.values()].some((v) => v instanceof TensorRef);
}

function findStateDict(root: unknown): Map<unknown, unknown> {
  if (hasTensors(root)) return root;
  if (root instanceof Map) {
    for (const key of WRAPPER_KEYS) {
      if (hasTensors(root.get(key))) return root.get(key) as Map<unknown, unknown>;
    }
    const nested = [...root.values()].filter(hasTensors);
    if (nested.length === 1) return nested[0];
  }
  const keys = root instanceof Map ? ` (it holds: ${[...root.keys()].slice(0, 10).join(', ')})` : '';
  throw new CheckpointError(
    'not-a-checkpoint',
    `This PyTorch file contains no network weights${keys}. Choose the checkpoint file of the model instead.`,
  );
}

function findPrefix(zip: ZipArchive): string {
  const pickle = zip.names().find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pickle) {
    throw new CheckpointError(
      'not-a-checkpoint',
      'This is a zip archive, but not a PyTorch checkpoint (it has no data.pkl).',
    );
  }
  return pickle.slice(0, -'/data.pkl'.length);
}

function stateDictTensors(
  root: unknown,
  storageBytes: (key: string) => Uint8Array,
  littleEndian: boolean,
): StateDict {
  const tensors = new Map<string, NamedTensor>();
  for (const [key, value] of findStateDict(root)) {
    if (typeof key !== 'string' || !(value instanceof TensorRef)) continue;
    const { storage, offset, shape, strides } = value;
    const dtype = storage.dtype;
    if (!isFloatDtype(dtype)) continue;
    const name = key.startsWith('module.') ? key.slice('module.'.length) : key;
    const view = { dtype, shape, strides, offset: storage.offset + offset, littleEndian };
    tensors.set(name, { shape, data: toFloat32(storageBytes(storage.key), view, name) });
  }
  return tensors;
}

function parseZipPth(buffer: Buffer): StateDict {
  const zip = new ZipArchive(buffer);
  const prefix = findPrefix(zip);
  const byteOrderName = `${prefix}/byteorder`;
  const littleEndian = !zip.has(byteOrderName) || zip.read(byteOrderName).toString('latin1').trim() !== 'big';
  const root = unpickle(zip.read(`${prefix}/data.pkl`), { findGlobal, persistentLoad, build });

  const storages = new Map<string, Buffer>();
  return stateDictTensors(
    root,
    (key) => {
      let bytes = storages.get(key);
      if (!bytes) {
        const name = `${prefix}/data/${key}`;
        if (!zip.has(name)) throw corrupt(`the stored data ${key} is missing`);
        bytes = zip.read(name);
        storages.set(key, bytes);
      }
      return bytes;
    },
    littleEndian,
  );
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * PyTorch < 1.6 format: pickles of the magic number, protocol version and system info, the object,
 * then the sorted storage keys, followed by each storage as a little-endian int64 element count and
 * its little-endian data.
 */
function parseLegacyPth(buffer: Buffer): StateDict {
  const hooks = {
    findGlobal,
    persistentLoad: (): never => {
      throw malformed('an unexpected stored object');
    },
    build,
  };
  const magic = unpickleAt(buffer, 0, hooks);
  if (magic.value !== LEGACY_MAGIC) {
    throw new CheckpointError(
      'not-a-checkpoint',
      'This is a Python pickle file, but not a PyTorch checkpoint.',
    );
  }
  const version = unpickleAt(buffer, magic.end, hooks);
  if (version.value !== 1001) {
    throw new CheckpointError(
      'unsupported',
      `This PyTorch checkpoint uses unknown format version ${version.value}.`,
    );
  }
  const sysInfo = unpickleAt(buffer, version.end, hooks);
  const dtypes = new Map<string, Dtype>();
  const main = unpickleAt(buffer, sysInfo.end, {
    findGlobal,
    build,
    persistentLoad: (pid) => {
      const ref = persistentLoad(pid);
      dtypes.set(ref.key, ref.dtype);
      return ref;
    },
  });
  const keys = unpickleAt(buffer, main.end, hooks);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw malformed('a malformed list of stored data');
  }

  const storages = new Map<string, Buffer>();
  let position = keys.end;
  for (const key of keys.value as string[]) {
    const dtype = dtypes.get(key);
    if (!dtype) throw malformed(`stored data ${key} that no tensor uses`);
    if (position + 8 > buffer.length) throw truncated(`the stored data ${key} is cut short`);
    const length = Number(buffer.readBigUInt64LE(position)) * DTYPE_SIZES[dtype];
    position += 8;
    if (position + length > buffer.length) throw truncated(`the stored data ${key} is cut short`);
    storages.set(key, buffer.subarray(position, position + length));
    position += length;
  }
  return stateDictTensors(
    main.value,
    (key) => {
      const bytes = storages.get(key);
      if (!bytes) throw corrupt(`the stored data ${key} is missing`);
      return bytes;
    },
    true,
  );
}

/**
 * Reads a torch.save checkpoint (zip format, or the legacy format of PyTorch < 1.6) without executing
 * anything: the pickle may only reference the handful of globals a state_dict needs. Returns the float
 * tensors of the (possibly wrapped) state_dict as float32, with DataParallel's `module.` prefixes
 * removed; integer tensors such as BatchNorm's num_batches_tracked are left out.
 */
export function parsePth(buffer: Buffer): StateDict {
  return buffer.length >= 4 && buffer.readUInt32LE(0) === ZIP_LOCAL_SIGNATURE
    ? parseZipPth(buffer)
    : parseLegacyPth(buffer);
}
