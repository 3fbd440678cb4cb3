// PyTorch archives (torch.save's zip format, the default since PyTorch 1.6): `<prefix>/data.pkl` describes the saved
// object, each tensor a view of a storage kept raw in `<prefix>/data/<key>`. Storages are what is compared, one entry
// each, named after the tensors that view them (a state dict's `fc1.weight`); the pickle is read by an inert machine.

import { UserError } from '../../../errors.js';
import { elementChunks, openRegularFile, readPrefix, type ByteSource } from '../byte-source.js';
import { isNumericDType, type TensorEntry, type TensorFile } from '../tensor-file.js';
import { ZipArchive } from '../zip.js';
import { dtypeElement, typedStorageElement, type TorchElementType } from './dtypes.js';
import { PickleDict, PickleList, PickleObject, PickleTuple, unpickle, type PickleValue } from './pickle-machine.js';
import { StorageRef, TensorView, TorchPickleHooks } from './tensor-views.js';

const TORCH_HINT = 'Save it with torch.save(obj, path) in its default zip format (PyTorch 1.6 or later) and make sure the file is complete.';
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
const MAX_BYTEORDER_BYTES = 16;
const MAX_NESTING = 64;
// A path segment (a dict key) longer than this is cut: a tensor's name stays readable, and a hostile key cheap.
const MAX_KEY_CHARS = 100;
// A storage viewed by many tensors is named by a few of them, so one name stays readable.
const MAX_ALSO_NAMED = 3;
const PICKLE_PROTO_OPCODE = 0x80;

export async function openTorch(file: string, displayPath: string): Promise<TensorFile> {
  const fail = (what: string) => new UserError(`${displayPath}: ${what}`, TORCH_HINT);
  const opened = await openRegularFile(file, displayPath);
  try {
    // The legacy format is a bare pickle stream: it starts with a PROTO opcode where a zip starts with "PK".
    if ((await readPrefix(opened.source, Math.min(1, opened.source.size)))[0] === PICKLE_PROTO_OPCODE) {
      throw new UserError(
        `${displayPath}: written in PyTorch's legacy serialization format (_use_new_zipfile_serialization=False), which repro-gate does not read`,
        'Save it with torch.save(obj, path) without _use_new_zipfile_serialization=False: the zip format is the default since PyTorch 1.6.',
      );
    }
    const archive = await ZipArchive.open(opened, displayPath, TORCH_HINT);
    const prefix = archivePrefix(archive, fail);
    const bigEndian = await isBigEndian(archive, prefix, fail);
    const hooks = new TorchPickleHooks((what) => fail(`${prefix}/data.pkl: ${what}`));
    const pickle = await readMember(archive, `${prefix}/data.pkl`, MAX_PICKLE_BYTES, fail);
    const root = unpickle(pickle, hooks, { where: `${displayPath} (member ${prefix}/data.pkl)`, hint: TORCH_HINT });
    const views = findTensors(root, (what) => fail(`${prefix}/data.pkl: ${what}`));
    const tensors = storageEntries(archive, prefix, [...hooks.storages.values()], views, bigEndian, fail);
    return { format: 'torch', tensors, close: opened.close };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

function archivePrefix(archive: ZipArchive, fail: (what: string) => UserError): string {
  const pickles = archive.entries.map((entry) => /^([^/]+)\/data\.pkl$/.exec(entry.name)?.[1]).filter((prefix) => prefix !== undefined);
  if (pickles.length === 0) throw fail('a zip archive without <name>/data.pkl, so not one torch.save wrote');
  if (pickles.length > 1) throw fail(`it holds ${pickles.length} data.pkl files (${pickles.join(', ')}), where torch.save writes one`);
  return pickles[0]!;
}

async function readMember(archive: ZipArchive, name: string, limit: number, fail: (what: string) => UserError): Promise<Uint8Array> {
  const entry = archive.find(name);
  if (!entry) throw fail(`the archive has no ${name}`);
  const source = archive.entrySource(entry);
  if (source.size > limit) throw fail(`${name} is ${source.size} bytes, more than the ${limit} repro-gate reads`);
  return readPrefix(source, source.size);
}

/** Archives from before PyTorch 1.10 have no byteorder record; they were written little-endian, like every later default. */
async function isBigEndian(archive: ZipArchive, prefix: string, fail: (what: string) => UserError): Promise<boolean> {
  const name = `${prefix}/byteorder`;
  if (!archive.find(name)) return false;
  const order = new TextDecoder('latin1').decode(await readMember(archive, name, MAX_BYTEORDER_BYTES, fail)).trim();
  if (order !== 'little' && order !== 'big') throw fail(`${name} says ${JSON.stringify(order)}, not "little" or "big"`);
  return order === 'big';
}

interface NamedView {
  name: string;
  view: TensorView;
}

/**
 * Every tensor reachable from the saved object, named by its dotted path (`model.fc1.weight`,
 * `optimizer.state.0.exp_avg`), each once, in pickle order. Scalars and other values are not tensors and are skipped.
 * Every object is walked once (the memo can share one object among many parents, or make it its own child) and
 * at most MAX_NESTING deep, and a path segment is only rendered for an object walked.
 */
function findTensors(root: PickleValue, fail: (what: string) => UserError): NamedView[] {
  const found: NamedView[] = [];
  const seen = new Set<object>();
  const keyTexts = new KeyTexts();
  const visit = (value: PickleValue, path: string[]) => {
    if (value instanceof TensorView) {
      found.push({ name: path.length === 0 ? 'tensor' : path.join('.'), view: value });
      return;
    }
    const children = childrenOf(value, seen);
    if (children.length > 0 && path.length >= MAX_NESTING) throw fail(`the saved object is nested more than ${MAX_NESTING} levels deep`);
    for (const [key, child] of children) {
      if (child === null || typeof child !== 'object' || seen.has(child)) continue;
      seen.add(child);
      visit(child, [...path, keyTexts.of(key)]);
    }
  };
  if (root !== null && typeof root === 'object') seen.add(root);
  visit(root, []);
  return found;
}

/**
 * A container's items keyed by key or index. An object of a class not modelled here has its constructor arguments,
 * its items, and its attributes: its BUILD state's own children, followed through states that are objects in turn,
 * without recursion (a chain of states can be as long as the pickle) and each state once (it can be the object
 * itself): a state is marked `seen` as it is followed.
 */
function childrenOf(value: PickleValue, seen: Set<object>): Array<[PickleValue, PickleValue]> {
  const children: Array<[PickleValue, PickleValue]> = [];
  const addItems = (items: readonly PickleValue[]) => items.forEach((item, index) => children.push([index, item]));
  for (let current = value; ; ) {
    if (current instanceof PickleDict) {
      for (const entry of current.entries) children.push(entry);
      break;
    }
    if (current instanceof PickleList || current instanceof PickleTuple) {
      addItems(current.items);
      break;
    }
    if (!(current instanceof PickleObject)) break;
    addItems(current.args);
    addItems(current.listItems);
    for (const entry of current.dictItems) children.push(entry);
    const { state } = current;
    if (!isContainer(state) || seen.has(state)) break;
    seen.add(state);
    current = state;
  }
  return children;
}

function isContainer(value: PickleValue): value is PickleDict | PickleList | PickleTuple | PickleObject {
  return value instanceof PickleDict || value instanceof PickleList || value instanceof PickleTuple || value instanceof PickleObject;
}

/**
 * Dict keys as path segments, cut at MAX_KEY_CHARS. A tuple key is rendered once, and only as far as the cut: through
 * the memo a tuple can hold another twice, that one the next twice, and so on, its full text doubling every level.
 */
class KeyTexts {
  private readonly tupleTexts = new Map<PickleTuple, string>();

  of(key: PickleValue): string {
    if (!(key instanceof PickleTuple)) return cut(scalarKeyText(key));
    let text = this.tupleTexts.get(key);
    if (text === undefined) {
      text = cut(keyTextPrefix(key, MAX_KEY_CHARS + 1));
      this.tupleTexts.set(key, text);
    }
    return text;
  }
}

function cut(text: string): string {
  return text.length > MAX_KEY_CHARS ? `${text.slice(0, MAX_KEY_CHARS)}…` : text;
}

/**
 * The key's text up to `limit` characters. Every tuple adds at least one character before its items, so the walk
 * nests at most `limit` deep and renders at most about `limit` values, however many the tuples hold.
 */
function keyTextPrefix(key: PickleValue, limit: number): string {
  if (!(key instanceof PickleTuple)) return scalarKeyText(key).slice(0, limit);
  let text = '(';
  for (let index = 0; index < key.items.length; index++) {
    if (index > 0) text += ', ';
    if (text.length >= limit) break;
    text += keyTextPrefix(key.items[index]!, limit - text.length);
  }
  return `${text})`.slice(0, limit);
}

function scalarKeyText(key: PickleValue): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  if (typeof key === 'boolean') return key ? 'True' : 'False';
  if (key === null) return 'None';
  return `<${key.constructor.name}>`;
}

function storageEntries(
  archive: ZipArchive,
  prefix: string,
  storages: StorageRef[],
  views: NamedView[],
  bigEndian: boolean,
  fail: (what: string) => UserError,
): TensorEntry[] {
  const viewsOf = new Map<StorageRef, NamedView[]>();
  for (const named of views) {
    const shared = viewsOf.get(named.view.storage);
    if (shared) shared.push(named);
    else viewsOf.set(named.view.storage, [named]);
  }
  const usedNames = new Set<string>();
  const entries: TensorEntry[] = [];
  for (const storage of storages) {
    const memberName = `${prefix}/data/${storage.key}`;
    const member = archive.find(memberName);
    if (!member) throw fail(`data.pkl refers to storage ${storage.key}, but the archive has no ${memberName}`);
    const named = viewsOf.get(storage) ?? [];
    const element = storageElement(storage, named, member.uncompressedSize);
    const byteLength = storage.storageType === 'UntypedStorage' ? storage.numel : storage.numel * element.itemSize;
    if (byteLength !== member.uncompressedSize || byteLength % element.itemSize !== 0) {
      throw fail(
        `data.pkl declares storage ${storage.key} as ${storage.numel} ${storage.storageType} (${byteLength} bytes of ${element.itemSize}-byte ${element.dtype}), but ${memberName} holds ${member.uncompressedSize} bytes`,
      );
    }
    const elementCount = byteLength / element.itemSize;
    // A view covering the storage whole names it and gives it its shape; other views only add their names.
    const whole = named.find(({ view }) => coversWhole(view, elementCount));
    const [first, ...others] = whole ? [whole, ...named.filter((view) => view !== whole)] : named;
    let name = first ? first.name + alsoNamed(others) : `storage ${storage.key}`;
    if (usedNames.has(name)) name = `${name} [storage ${storage.key}]`;
    usedNames.add(name);

    // One source per storage, however many views share it: a storage is read once per comparison.
    const source: ByteSource = archive.entrySource(member);
    const { dtype, itemSize } = element;
    const numeric = isNumericDType(dtype);
    entries.push({
      name,
      // Raw bytes cannot be swapped without knowing their layout: a big-endian raw storage says so in its type.
      dtype: bigEndian && !numeric ? `${dtype} (big-endian)` : dtype,
      shape: whole ? [...whole.view.shape] : [elementCount],
      itemSize,
      byteLength,
      chunks: () => elementChunks(source, 0, itemSize, bigEndian && numeric),
    });
  }
  return entries;
}

function alsoNamed(others: NamedView[]): string {
  if (others.length === 0) return '';
  const listed = others
    .slice(0, MAX_ALSO_NAMED)
    .map((view) => view.name)
    .join(', ');
  return ` (also ${listed}${others.length > MAX_ALSO_NAMED ? ` and ${others.length - MAX_ALSO_NAMED} more` : ''})`;
}

function storageElement(storage: StorageRef, named: NamedView[], storedBytes: number): TorchElementType {
  if (storage.storageType === 'UntypedStorage') {
    const dtypeName = named.find(({ view }) => view.dtypeName !== undefined)?.view.dtypeName;
    return dtypeName === undefined ? { dtype: 'raw:UntypedStorage', itemSize: 1 } : dtypeElement(dtypeName);
  }
  // A typed storage class newer than this table: its width is whatever the stored bytes divide into.
  const inferredWidth = storage.numel > 0 && storedBytes % storage.numel === 0 ? storedBytes / storage.numel : 1;
  return typedStorageElement(storage.storageType) ?? { dtype: `raw:${storage.storageType}`, itemSize: inferredWidth };
}

function coversWhole(view: TensorView, elementCount: number): boolean {
  const count = view.shape.reduce((product, dimension) => product * dimension, 1);
  if (view.offset !== 0 || count !== elementCount) return false;
  let expectedStride = 1;
  for (let axis = view.shape.length - 1; axis >= 0; axis--) {
    if (view.shape[axis] !== 1 && count > 0 && view.stride[axis] !== expectedStride) return false;
    expectedStride *= view.shape[axis]!;
  }
  return true;
}
