// A pickle virtual machine that executes nothing: it understands the opcodes torch.save emits (protocol 2, and the
// protocol 3-5 forms a newer writer might use) and builds inert values. A global is a name, a call of a global is
// an opaque object unless the caller's hook models it (torch's tensor rebuild functions). Every length is checked
// against the bytes left, and the stack (with its marks), the memo and the items containers hold are capped, so a
// hostile pickle cannot exhaust memory: one byte of pickle can be one value, and a 64 MiB pickle deflates to 64 KiB.

import { UserError } from '../../../errors.js';

/** A module-level name (a class or function) the pickle refers to; never imported. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

export class PickleList {
  readonly items: PickleValue[] = [];
}

/** A dict or an OrderedDict. */
export class PickleDict {
  readonly entries = new Map<PickleValue, PickleValue>();
}

/**
 * An instance of a class this machine does not model, kept with what built it (so its contents can still be
 * searched): constructor arguments, the state BUILD gave it, and items added as if it were a dict, list or set.
 */
export class PickleObject {
  state: PickleValue = null;
  readonly dictItems = new Map<PickleValue, PickleValue>();
  readonly listItems: PickleValue[] = [];

  constructor(
    readonly type: PickleValue,
    readonly args: readonly PickleValue[],
  ) {}
}

/** Values the caller's hooks create (torch storages and tensor views); the machine passes them around untouched. */
export abstract class PickleExtension {}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleGlobal
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleObject
  | PickleExtension;

export interface PickleHooks {
  /** BINPERSID: the value a persistent id stands for. */
  persistentLoad(pid: PickleValue): PickleValue;
  /** `callable(*args)` for the callables the caller models; undefined keeps an opaque object. */
  reduce(callable: PickleGlobal, args: readonly PickleValue[]): PickleValue | undefined;
}

export interface PickleContext {
  /** Names the pickle in messages: `out/model.pt (member model/data.pkl)`. */
  where: string;
  hint: string;
}

const MAX_STACK_ITEMS = 1_000_000;
const MAX_MEMO_ENTRIES = 1_000_000;
// Far more than a checkpoint's tensors need (a few dozen items each), far less than a pickle of one-byte items holds.
const MAX_CONTAINER_ITEMS = 10_000_000;
const MAX_LONG_BYTES = 1024;
const HIGHEST_PROTOCOL = 5;
const DECODERS = { 'utf-8': new TextDecoder('utf-8'), latin1: new TextDecoder('latin1') };

/** Runs the pickle in `bytes` and returns what its STOP leaves on the stack. */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, context: PickleContext): PickleValue {
  return new PickleMachine(bytes, hooks, context).run();
}

class PickleMachine {
  private at = 0;
  private opcodeAt = 0;
  private stack: PickleValue[] = [];
  private readonly marks: PickleValue[][] = [];
  /** Values on the stack and marks under it, together: each mark holds an array of its own. */
  private stackItems = 0;
  private containerItems = 0;
  private readonly memo = new Map<number, PickleValue>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly hooks: PickleHooks,
    private readonly context: PickleContext,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): PickleValue {
    while (this.at < this.bytes.length) {
      this.opcodeAt = this.at;
      const opcode = this.bytes[this.at++]!;
      if (opcode === 0x2e /* . STOP */) return this.pop();
      this.step(opcode);
    }
    throw this.fail('it ends without a STOP opcode (the pickle is truncated)');
  }

  private step(opcode: number): void {
    switch (opcode) {
      case 0x80 /* PROTO */: {
        const protocol = this.u8();
        if (protocol > HIGHEST_PROTOCOL) throw this.fail(`pickle protocol ${protocol} is newer than the ${HIGHEST_PROTOCOL} repro-gate reads`);
        return;
      }
      case 0x95 /* FRAME: a length prefix for buffering, nothing to build */:
        this.take(8);
        return;
      case 0x28 /* ( MARK */:
        this.growStack();
        this.marks.push(this.stack);
        this.stack = [];
        return;
      case 0x30 /* 0 POP */:
        if (this.stack.length > 0) this.pop();
        else this.popMark();
        return;
      case 0x31 /* 1 POP_MARK */:
        this.popMark();
        return;
      case 0x32 /* 2 DUP */:
        return this.push(this.top());
      case 0x63 /* c GLOBAL */: {
        const module = this.line();
        return this.push(new PickleGlobal(module, this.line()));
      }
      case 0x93 /* STACK_GLOBAL */: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw this.fail('STACK_GLOBAL names a global with something other than strings');
        return this.push(new PickleGlobal(module, name));
      }
      case 0x71 /* q BINPUT */:
        return this.memoize(this.u8());
      case 0x72 /* r LONG_BINPUT */:
        return this.memoize(this.u32());
      case 0x94 /* MEMOIZE */:
        return this.memoize(this.memo.size);
      case 0x68 /* h BINGET */:
        return this.recall(this.u8());
      case 0x6a /* j LONG_BINGET */:
        return this.recall(this.u32());
      case 0x7d /* } EMPTY_DICT */:
        return this.push(new PickleDict());
      case 0x5d /* ] EMPTY_LIST */:
        return this.push(new PickleList());
      case 0x29 /* ) EMPTY_TUPLE */:
        return this.push(new PickleTuple([]));
      case 0x8f /* EMPTY_SET */:
        return this.push(new PickleObject(new PickleGlobal('builtins', 'set'), []));
      case 0x74 /* t TUPLE */:
        return this.push(new PickleTuple(this.hold(this.popMark())));
      case 0x85 /* TUPLE1 */:
      case 0x86 /* TUPLE2 */:
      case 0x87 /* TUPLE3 */: {
        const items = Array.from({ length: opcode - 0x84 }, () => this.pop()).reverse();
        return this.push(new PickleTuple(this.hold(items)));
      }
      case 0x91 /* FROZENSET */: {
        const set = new PickleObject(new PickleGlobal('builtins', 'frozenset'), []);
        for (const item of this.hold(this.popMark())) set.listItems.push(item);
        return this.push(set);
      }
      case 0x73 /* s SETITEM */: {
        const value = this.pop();
        const key = this.pop();
        return this.setItems([key, value]);
      }
      case 0x75 /* u SETITEMS */:
        return this.setItems(this.popMark());
      case 0x61 /* a APPEND */:
        return this.append([this.pop()]);
      case 0x65 /* e APPENDS */:
      case 0x90 /* ADDITEMS */:
        return this.append(this.popMark());
      case 0x4a /* J BININT */:
        return this.push(this.view.getInt32(this.take(4), true));
      case 0x4b /* K BININT1 */:
        return this.push(this.u8());
      case 0x4d /* M BININT2 */:
        return this.push(this.view.getUint16(this.take(2), true));
      case 0x8a /* LONG1 */:
        return this.push(this.long(this.u8()));
      case 0x8b /* LONG4 */:
        return this.push(this.long(this.u32()));
      case 0x47 /* G BINFLOAT */:
        return this.push(this.view.getFloat64(this.take(8), false));
      case 0x58 /* X BINUNICODE */:
        return this.push(this.text(this.u32(), 'utf-8'));
      case 0x8c /* SHORT_BINUNICODE */:
        return this.push(this.text(this.u8(), 'utf-8'));
      case 0x8d /* BINUNICODE8 */:
        return this.push(this.text(this.u64(), 'utf-8'));
      case 0x55 /* U SHORT_BINSTRING */:
        return this.push(this.text(this.u8(), 'latin1'));
      case 0x54 /* T BINSTRING */:
        return this.push(this.text(this.u32(), 'latin1'));
      case 0x43 /* C SHORT_BINBYTES */:
        return this.push(this.slice(this.u8()));
      case 0x42 /* B BINBYTES */:
        return this.push(this.slice(this.u32()));
      case 0x8e /* BINBYTES8 */:
      case 0x96 /* BYTEARRAY8 */:
        return this.push(this.slice(this.u64()));
      case 0x4e /* N NONE */:
        return this.push(null);
      case 0x88 /* NEWTRUE */:
        return this.push(true);
      case 0x89 /* NEWFALSE */:
        return this.push(false);
      case 0x51 /* Q BINPERSID */:
        return this.push(this.hooks.persistentLoad(this.pop()));
      case 0x52 /* R REDUCE */:
      case 0x81 /* NEWOBJ */: {
        const args = this.pop();
        return this.push(this.construct(this.pop(), args));
      }
      case 0x92 /* NEWOBJ_EX: keyword arguments are not needed to find tensors */: {
        this.pop();
        const args = this.pop();
        return this.push(this.construct(this.pop(), args));
      }
      case 0x62 /* b BUILD */: {
        const state = this.pop();
        const target = this.top();
        // Dicts get attributes this way (an OrderedDict's _metadata), never items: only opaque objects keep it.
        if (target instanceof PickleObject) target.state = state;
        return;
      }
      default:
        throw this.fail(
          `unsupported pickle opcode 0x${opcode.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(opcode))})`,
        );
    }
  }

  private construct(callable: PickleValue, args: PickleValue): PickleValue {
    if (!(args instanceof PickleTuple)) throw this.fail('a call gets its arguments as something other than a tuple');
    if (callable instanceof PickleGlobal) {
      const name = callable.qualifiedName;
      if ((name === 'collections.OrderedDict' || name === 'builtins.dict') && args.items.length === 0) return new PickleDict();
      const modelled = this.hooks.reduce(callable, args.items);
      if (modelled !== undefined) return modelled;
    }
    return new PickleObject(callable, args.items);
  }

  private setItems(items: PickleValue[]): void {
    if (items.length % 2 !== 0) throw this.fail('SETITEMS gets an odd number of keys and values');
    const target = this.top();
    const entries = target instanceof PickleDict ? target.entries : target instanceof PickleObject ? target.dictItems : undefined;
    if (!entries) throw this.fail(`it sets items on ${describe(target)}`);
    this.hold(items);
    for (let index = 0; index < items.length; index += 2) entries.set(items[index]!, items[index + 1]!);
  }

  private append(items: PickleValue[]): void {
    const target = this.top();
    const list = target instanceof PickleList ? target.items : target instanceof PickleObject ? target.listItems : undefined;
    if (!list) throw this.fail(`it appends to ${describe(target)}`);
    this.hold(items);
    for (const item of items) list.push(item);
  }

  private memoize(index: number): void {
    if (this.memo.size >= MAX_MEMO_ENTRIES && !this.memo.has(index)) throw this.fail(`its memo grows past ${MAX_MEMO_ENTRIES} entries`);
    this.memo.set(index, this.top());
  }

  private recall(index: number): void {
    if (!this.memo.has(index)) throw this.fail(`it recalls memo entry ${index}, which was never stored`);
    this.push(this.memo.get(index)!);
  }

  private push(value: PickleValue): void {
    this.growStack();
    this.stack.push(value);
  }

  private growStack(): void {
    if (++this.stackItems > MAX_STACK_ITEMS) throw this.fail(`its stack grows past ${MAX_STACK_ITEMS} items and marks`);
  }

  /** Counts `items` as they go into a container (where the stack no longer counts them). */
  private hold(items: PickleValue[]): PickleValue[] {
    this.containerItems += items.length;
    if (this.containerItems > MAX_CONTAINER_ITEMS) throw this.fail(`its lists, tuples, dicts and sets hold more than ${MAX_CONTAINER_ITEMS} items`);
    return items;
  }

  private pop(): PickleValue {
    if (this.stack.length === 0) throw this.fail('it pops from an empty stack');
    this.stackItems--;
    return this.stack.pop()!;
  }

  private top(): PickleValue {
    if (this.stack.length === 0) throw this.fail('it uses the top of an empty stack');
    return this.stack[this.stack.length - 1]!;
  }

  /** The items pushed since the last MARK, which is removed with them. */
  private popMark(): PickleValue[] {
    const items = this.stack;
    const outer = this.marks.pop();
    if (outer === undefined) throw this.fail('it uses a MARK that was never set');
    this.stack = outer;
    this.stackItems -= items.length + 1;
    return items;
  }

  /** The position of `length` bytes, which must lie inside the pickle. */
  private take(length: number): number {
    if (length > this.bytes.length - this.at) throw this.fail(`it needs ${length} more bytes, past the end of the pickle (truncated)`);
    const start = this.at;
    this.at += length;
    return start;
  }

  private u8(): number {
    return this.bytes[this.take(1)]!;
  }

  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  private u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    // Any length past the pickle's size fails in take(); clamping keeps the number exact enough to say so.
    return value > BigInt(this.bytes.length) ? this.bytes.length + 1 : Number(value);
  }

  private slice(length: number): Uint8Array {
    const start = this.take(length);
    return this.bytes.slice(start, start + length);
  }

  private text(length: number, encoding: 'utf-8' | 'latin1'): string {
    const start = this.take(length);
    return DECODERS[encoding].decode(this.bytes.subarray(start, start + length));
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.at);
    if (end < 0) throw this.fail('a GLOBAL name runs past the end of the pickle (truncated)');
    return this.text(end - this.at + 1, 'utf-8').slice(0, -1);
  }

  /** A little-endian two's-complement integer; a number when it is exact as one. */
  private long(length: number): number | bigint {
    if (length > MAX_LONG_BYTES) throw this.fail(`it holds a ${length}-byte integer, longer than the ${MAX_LONG_BYTES} bytes repro-gate reads`);
    const start = this.take(length);
    let value = 0n;
    for (let index = length - 1; index >= 0; index--) value = (value << 8n) | BigInt(this.bytes[start + index]!);
    if (length > 0 && this.bytes[start + length - 1]! & 0x80) value -= 1n << BigInt(length * 8);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  private fail(what: string): UserError {
    return new UserError(`${this.context.where}: ${what} (pickle opcode at byte ${this.opcodeAt})`, this.context.hint);
  }
}

function describe(value: PickleValue): string {
  if (value === null) return 'None';
  if (typeof value !== 'object') return `a ${typeof value}`;
  return `a ${value.constructor.name.replace(/^Pickle/, '').toLowerCase()}`;
}
