import { CheckpointError, corrupt, truncated } from './errors';

/** A Python callable the unpickler may REDUCE: receives the argument tuple as an array. */
export type PyCallable = (args: unknown[]) => unknown;

export interface UnpicklerHooks {
  /** Maps `module.name` to a value, or throws: the only way a pickle can reach code. */
  findGlobal(module: string, name: string): unknown;
  persistentLoad(pid: unknown): unknown;
  /** BUILD on an object created by an allowed global (e.g. an OrderedDict's attributes). */
  build(target: unknown, state: unknown): void;
}

/**
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, tuple and list → Array, dict → Map.
 */
export function unpickle(bytes: Uint8Array, hooks: UnpicklerHooks): unknown {
  return unpickleAt(bytes, 0, hooks).value;
}

/** Reads one pickle starting at `start`; `end` is where the next one (or other data) begins. */
export function unpickleAt(
  bytes: Uint8Array,
  start: number,
  hooks: UnpicklerHooks,
): { value: unknown; end: number } {
  const unpickler = new Unpickler(bytes, hooks, start);
  return { value: unpickler.run(), end: unpickler.position };
}

class Unpickler {
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly hooks: UnpicklerHooks,
    public position: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(length: number): number {
    const start = this.position;
    if (length < 0 || length > this.bytes.length - start)
      throw truncated('the weights index ends unexpectedly');
    this.position += length;
    return start;
  }

  private u8(): number {
    return this.bytes[this.take(1)];
  }

  private u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  private i32(): number {
    return this.view.getInt32(this.take(4), true);
  }

  private u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    if (value > BigInt(this.bytes.length)) throw truncated('the weights index ends unexpectedly');
    return Number(value);
  }

  private raw(length: number): Uint8Array {
    const start = this.take(length);
    return this.bytes.subarray(start, start + length);
  }

  private text(length: number, encoding: 'utf-8' | 'latin1' = 'utf-8'): string {
    return new TextDecoder(encoding, { fatal: true }).decode(this.raw(length));
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.position);
    if (end < 0) throw truncated('the weights index ends unexpectedly');
    const value = this.text(end - this.position);
    this.position++;
    return value;
  }

  /** Little-endian two's complement integer of arbitrary length (LONG1/LONG4). */
  private long(length: number): number | bigint {
    const digits = this.raw(length);
    let value = 0n;
    for (let i = digits.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(digits[i]);
    if (length > 0 && digits[length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }

  private push(value: unknown): void {
    this.stack.push(value);
  }

  private pop(): unknown {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) throw corrupt('the weights index is malformed');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) throw corrupt('the weights index is malformed');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw corrupt('the weights index is malformed');
    return this.stack.splice(mark);
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map) || items.length % 2 !== 0) {
      throw corrupt('the weights index is malformed');
    }
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  private append(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target)) throw corrupt('the weights index is malformed');
    target.push(...items);
  }

  private global(module: string, name: string): void {
    this.push(this.hooks.findGlobal(module, name));
  }

  private memoGet(index: number): void {
    if (!this.memo.has(index)) throw corrupt('the weights index is malformed');
    this.push(this.memo.get(index));
  }

  run(): unknown {
    for (;;) {
      const opcode = this.u8();
      switch (opcode) {
        case 0x80: // PROTO
          if (this.u8() > 5)
            throw new CheckpointError('unsupported', 'The file uses an unknown pickle protocol.');
          break;
        case 0x95: // FRAME
          this.u64();
          break;
        case 0x2e: // STOP
          return this.pop();
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x4a: // BININT
          this.push(this.i32());
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x8a: // LONG1
          this.push(this.long(this.u8()));
          break;
        case 0x8b: // LONG4
          this.push(this.long(this.u32()));
          break;
        case 0x47: // BINFLOAT
          this.push(this.view.getFloat64(this.take(8), false));
          break;
        case 0x58: // BINUNICODE
          this.push(this.text(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.text(this.u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.text(this.u64()));
          break;
        case 0x54: // BINSTRING
          this.push(this.text(this.i32(), 'latin1'));
          break;
        case 0x55: // SHORT_BINSTRING
          this.push(this.text(this.u8(), 'latin1'));
          break;
        case 0x42: // BINBYTES
          this.push(this.raw(this.u32()).slice());
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.raw(this.u8()).slice());
          break;
        case 0x8e: // BINBYTES8
          this.push(this.raw(this.u64()).slice());
          break;
        case 0x29: // EMPTY_TUPLE
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x85: // TUPLE1
          this.push([this.pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          this.push([this.pop(), b]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          this.push([this.pop(), b, c]);
          break;
        }
        case 0x74: // TUPLE
        case 0x6c: // LIST
          this.push(this.popMark());
          break;
        case 0x7d: // EMPTY_DICT
          this.push(new Map());
          break;
        case 0x64: {
          // DICT
          const dict = new Map();
          this.setItems(dict, this.popMark());
          this.push(dict);
          break;
        }
        case 0x73: {
          // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x61: {
          // APPEND
          const item = this.pop();
          this.append(this.top(), [item]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
          this.memoGet(this.u8());
          break;
        case 0x6a: // LONG_BINGET
          this.memoGet(this.u32());
          break;
        case 0x63: {
          // GLOBAL
          const module = this.line();
          this.global(module, this.line());
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') {
            throw corrupt('the weights index is malformed');
          }
          this.global(module, name);
          break;
        }
        case 0x51: // BINPERSID
          this.push(this.hooks.persistentLoad(this.pop()));
          break;
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const callable = this.pop();
          if (typeof callable !== 'function' || !Array.isArray(args)) {
            throw corrupt('the weights index calls something that is not callable');
          }
          this.push((callable as PyCallable)(args));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          this.hooks.build(this.top(), state);
          break;
        }
        default:
          throw new CheckpointError(
            'unsupported',
            `The weights index uses pickle opcode 0x${opcode.toString(16)} at byte ${this.position - 1}, ` +
              'which a PyTorch state_dict never contains.',
          );
      }
    }
  }
}
