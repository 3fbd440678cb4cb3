import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPickle, type PythonRunner } from '../../src/compare/formats/pickle/pickle.js';
import { openTorch } from '../../src/compare/formats/torch/torch.js';
import { expectAsReported, readAll, readFailure, refusesEachBadFile, rejection, type ExpectedTensor } from '../support/tensor-readers.js';
import { runTensorPython } from '../support/tensor-venv.js';

// torch.save writes every fixture; torch reports each tensor's dotted path, dtype, shape and the sha256 of its
// elements (`t.contiguous()` viewed as bytes, so bfloat16 and float8 need no numpy dtype). Damaged archives are
// real ones rewritten with zipfile; hostile pickles are hand-assembled.
const FIXTURES = String.raw`
import hashlib, io, json, os, struct, sys, warnings, zipfile
import torch, torch.nn as nn
warnings.simplefilter('ignore')
out = sys.argv[1]
torch.manual_seed(0)
NUMERIC = {'bool', 'float16', 'bfloat16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'}

def raw_bytes(t):
    return t.detach().contiguous().flatten().view(torch.uint8).numpy().tobytes()
def described(name, t, dtype=None, shape=None, data=None):
    data = raw_bytes(t) if data is None else data
    torch_dtype = str(t.dtype).removeprefix('torch.')
    return {'name': name, 'dtype': dtype or (torch_dtype if torch_dtype in NUMERIC else 'raw:' + torch_dtype),
            'shape': list(t.shape) if shape is None else shape, 'sha256': hashlib.sha256(data).hexdigest(), 'byteLength': len(data)}
def walk(obj, path, found):
    if isinstance(obj, torch.Tensor):
        found.append(described('.'.join(path) or 'tensor', obj))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            walk(value, path + [str(key)], found)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            walk(value, path + [str(index)], found)
    return found

result = {'cases': {}, 'bad': {}}
def save(name, obj, expected=None):
    target = os.path.join(out, name + '.pt')
    torch.save(obj, target)
    result['cases'][name] = {'path': target, 'tensors': walk(obj, [], []) if expected is None else expected}
    return target

model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
save('sequential', model.state_dict())
optimizer = torch.optim.Adam(model.parameters())
model(torch.randn(5, 3)).sum().backward()
optimizer.step()
save('checkpoint', {'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'epoch': 3, 'loss': 0.25, 'note': 'x', 'history': [1.0, 2.0]})
save('dtypes', {
    'bf16': torch.randn(5).to(torch.bfloat16), 'f16': torch.randn(2, 3).half(), 'f64': torch.randn(3, dtype=torch.float64),
    'i64': torch.arange(-3, 3), 'i32': torch.arange(4, dtype=torch.int32), 'i16': torch.arange(-2, 2, dtype=torch.int16),
    'i8': torch.arange(-5, 5, dtype=torch.int8), 'u8': torch.arange(250, 256, dtype=torch.uint8), 'flags': torch.tensor([True, False, True]),
    'u16': torch.tensor([1, 2, 65535], dtype=torch.uint16), 'u32': torch.tensor([7, 2**32 - 1], dtype=torch.uint32),
    'u64': torch.tensor([1, 2**40], dtype=torch.uint64), 'f8': torch.randn(4).to(torch.float8_e4m3fn),
})
complex_tensor = torch.tensor([1 + 2j, -3j], dtype=torch.complex64)
save('complex', {'c': complex_tensor}, [described('c', complex_tensor, dtype='raw:' + complex_tensor.storage()._pickle_storage_type())])
save('containers', {'p': nn.Parameter(torch.randn(2)), 'l': [torch.zeros(1), (torch.ones(2, 2),)], 'd': {'inner': {'x': torch.arange(3.0)}}, 7: torch.tensor([1.0]), 'scalar': torch.tensor(2.5), 'empty': torch.zeros(0, 3)})
save('root', torch.randn(3))
save('large', {'big': torch.randn(3_000_000)})
whole_model = os.path.join(out, 'whole-model.pt')
torch.save(model, whole_model)
result['cases']['whole-model'] = {'path': whole_model, 'tensors': [
    described('_modules.' + key.replace('.', '._parameters.'), value) for key, value in model.state_dict().items()]}

# Views sharing one storage: the storage is one entry, named by the views (their names are the reader's contract),
# holding every element torch saved for it.
def shared(name, obj, base, entry_name, shape):
    save(name, obj, [described(entry_name, base, shape=shape)])
base = torch.arange(12.0)
shared('shared', {'whole': base, 'first': base[:6].view(2, 3), 'second': base[6:]}, base, 'whole (also first, second)', [12])
base = torch.arange(12.0) * 2
shared('shared-slices', {'a': base[:6], 'b': base[6:]}, base, 'a (also b)', [12])
base = torch.arange(12.0) * 3
shared('transposed', {'t': base.view(3, 4).t()}, base, 't', [12])
base = torch.arange(12.0) * 4
shared('slice-only', {'s': base[2:5]}, base, 's', [12])
base = torch.arange(12.0) * 5
shared('covered-later', {'part': base[:3], 'all': base.view(3, 4)}, base, 'all (also part)', [3, 4])

# Cheap to write, costly to read carelessly: one storage viewed by 20000 tensors, and an object that is its own
# state (its __reduce__ returns it as the state, and the pickler refers back to it).
base = torch.arange(12.0) * 6
shared('many-views', [base.view(12) for _ in range(20000)], base, '0 (also 1, 2, 3 and 19996 more)', [12])
class OwnState:
    def __init__(self, weight):
        self.weight = weight
    def __reduce__(self):
        return (OwnState, (self.weight,), self)
own = OwnState(torch.arange(4.0))
save('own-state', own, [described('0', own.weight)])

def rewrite(source, name, change):
    target = os.path.join(out, name)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, 'w') as zout:
        for info in zin.infolist():
            data = change(info.filename.split('/', 1)[1], zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
    return target

# A big-endian archive, as torch writes on s390x: byteorder says "big" and storages hold big-endian elements.
little = {'w': torch.randn(2, 3), 'n': torch.arange(-2, 2), 'h': torch.randn(3).half(), 'c': complex_tensor.clone()}
little_path = save('little-source', little)
widths = {'0': 4, '1': 8, '2': 2, '3': 4}
swapped = {}
def to_big(member, data):
    if member == 'byteorder':
        return b'big'
    key = member.removeprefix('data/')
    if key in widths:
        width = widths[key]
        swapped[key] = b''.join(data[i:i + width][::-1] for i in range(0, len(data), width))
        return swapped[key]
    return data
big_path = rewrite(little_path, 'big-endian.pt', to_big)
reloaded = torch.load(big_path)
assert all(torch.equal(reloaded[key], value) for key, value in little.items())
result['cases']['big-endian'] = {'path': big_path, 'tensors': walk({key: little[key] for key in 'wnh'}, [], []) + [
    described('c', little['c'], dtype='raw:ComplexFloatStorage (big-endian)', data=swapped['3'])]}

# A dict key that, shared through the memo, renders to 2**40 leaves: T0 = ('k', 'k'), then T = (T, T) forty times
# (no Python dict can hold it: hashing it walks every leaf), put in place of the key 'K' of a real archive.
keyed = torch.arange(3.0)
keyed_path = save('tuple-key-source', {'K': keyed})
memo = struct.pack('<I', 0xFFFF0000)
key_opcodes = b'X\x01\x00\x00\x00kr' + memo + b'0' + (b'j' + memo + b'j' + memo + b'\x86r' + memo + b'0') * 41 + b'j' + memo
def with_tuple_key(member, data):
    return data.replace(b'X\x01\x00\x00\x00K', key_opcodes, 1) if member == 'data.pkl' else data
result['cases']['tuple-key'] = {'path': rewrite(keyed_path, 'tuple-key.pt', with_tuple_key), 'tensors': [described('key', keyed)]}

legacy = os.path.join(out, 'legacy.pt')
torch.save(model.state_dict(), legacy, _use_new_zipfile_serialization=False)
result['legacy'] = legacy

def write_bad(name, data):
    target = os.path.join(out, 'bad-' + name)
    with open(target, 'wb') as f:
        f.write(data)
    result['bad'][name] = target
sequential = open(result['cases']['sequential']['path'], 'rb').read()
write_bad('garbage.pt', bytes(range(256)) * 8)
write_bad('empty.pt', b'')
write_bad('truncated.pt', sequential[: len(sequential) // 2])
result['bad']['missing-storage.pt'] = rewrite(result['cases']['sequential']['path'], 'bad-missing-storage.pt', lambda m, d: None if m == 'data/0' else d)
result['bad']['short-storage.pt'] = rewrite(result['cases']['sequential']['path'], 'bad-short-storage.pt', lambda m, d: d[:-4] if m == 'data/0' else d)
result['bad']['byteorder.pt'] = rewrite(result['cases']['sequential']['path'], 'bad-byteorder.pt', lambda m, d: b'middle' if m == 'byteorder' else d)
def pickle_archive(name, pkl, prefix='x', compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', compression) as z:
        z.writestr(prefix + '/data.pkl', pkl)
        z.writestr(prefix + '/byteorder', 'little')
    write_bad(name, buffer.getvalue())
pickle_archive('no-data-pkl.pt', b'', prefix='x/y')
pickle_archive('unknown-opcode.pt', b'\x80\x02\xff')
pickle_archive('truncated-pickle.pt', b'\x80\x02}q\x00(X\x05\x00\x00\x00mo')
pickle_archive('missing-memo.pt', b'\x80\x02h\x05.')
pickle_archive('no-stop.pt', b'\x80\x02}')
pickle_archive('deep-nesting.pt', b'\x80\x02' + b']' * 100000 + b'a' * 99999 + b'.')
pickle_archive('huge-string.pt', b'\x80\x02X\xff\xff\xff\x7f')
pickle_archive('huge-long.pt', b'\x80\x02\x8b\xff\xff\xff\xff')
pickle_archive('bad-persistent-id.pt', b'\x80\x02X\x01\x00\x00\x00xQ.')
pickle_archive('stack-underflow.pt', b'\x80\x02s.')
pickle_archive('protocol-9.pt', b'\x80\x09}.')
# Megabytes of one-byte opcodes deflate to kilobytes: a million MARKs, and eleven million items appended to a list.
pickle_archive('mark-flood.pt', b'\x80\x02' + b'(' * 1_100_000 + b'.', compression=zipfile.ZIP_DEFLATED)
pickle_archive('list-flood.pt', b'\x80\x02]' + (b'(' + b'N' * 900_000 + b'e') * 12 + b'.', compression=zipfile.ZIP_DEFLATED)
# Inert pickles that must load as "no tensors": a list holding itself, and a call of os.system that must not run.
pickle_archive('self-list.pt', b'\x80\x02]q\x00h\x00a.')
# A hundred thousand objects, each the BUILD state of the next.
link = b'h\x01)\x81'
pickle_archive('state-chain.pt', b'\x80\x02c__main__\nLink\nq\x010' + link + b'q\x000' + (link + b'h\x00bq\x000') * 100_000 + b'h\x00.')
sentinel = os.path.join(out, 'executed')
command = ('touch ' + sentinel).encode()
pickle_archive('os-system.pt', b'\x80\x02cos\nsystem\nX' + len(command).to_bytes(4, 'little') + command + b'\x85R.')
result['sentinel'] = sentinel
print(json.dumps(result))
`;

interface Fixtures {
  cases: Record<string, { path: string; tensors: ExpectedTensor[] }>;
  bad: Record<string, string>;
  legacy: string;
  sentinel: string;
}

let fixtures: Fixtures;
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-torch-'));
  fixtures = JSON.parse(await runTensorPython(FIXTURES, [dir])) as Fixtures;
});

describe('openTorch', () => {
  // Whole objects, every dtype, storages shared by several views, and a big-endian archive.
  it.each([
    'sequential', 'checkpoint', 'dtypes', 'complex', 'containers', 'root', 'whole-model',
    'shared', 'shared-slices', 'transposed', 'slice-only', 'covered-later', 'many-views', 'own-state',
    'big-endian',
  ])('reads %s: each storage named by its tensors, with the dtype, shape and bytes torch reports', async (name) => {
    const fixture = fixtures.cases[name]!;
    expectAsReported(await readAll(await openTorch(fixture.path, `out/${name}.pt`)), fixture.tensors);
  });

  it('names checkpoint tensors by their dotted path and skips scalars', async () => {
    const names = (await readAll(await openTorch(fixtures.cases.checkpoint!.path, 'ckpt.pt'))).map((tensor) => tensor.name);
    expect(names).toContain('model.0.weight');
    expect(names).toContain('optimizer.state.0.exp_avg');
    expect(names.some((name) => name.startsWith('epoch') || name.startsWith('loss'))).toBe(false);
  });

  it('streams a storage larger than one chunk in several bounded chunks', async () => {
    const tensors = await readAll(await openTorch(fixtures.cases.large!.path, 'out/large.pt'));
    expectAsReported(tensors, fixtures.cases.large!.tensors);
    expect(tensors[0]!.chunkSizes.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses the legacy (non-zip) format and says how to save instead', async () => {
    const error = await readFailure(openTorch(fixtures.legacy, 'out/legacy.pt'));
    expect(error.message).toContain('out/legacy.pt');
    expect(error.message).toContain('legacy');
    expect(error.hint).toContain('zip');
  });

  it('runs nothing a pickle names: a call of os.system loads as an object without tensors', async () => {
    expect(await readAll(await openTorch(fixtures.bad['os-system.pt']!, 'out/evil.pt'))).toEqual([]);
    await expect(access(fixtures.sentinel)).rejects.toThrow();
  });

  it('walks a list that holds itself once', async () => {
    expect(await readAll(await openTorch(fixtures.bad['self-list.pt']!, 'out/self.pt'))).toEqual([]);
  });

  it('follows a chain of a hundred thousand BUILD states without recursing', async () => {
    expect(await readAll(await openTorch(fixtures.bad['state-chain.pt']!, 'out/chain.pt'))).toEqual([]);
  });

  it('names a tensor under a tuple key of 2**40 leaves by the first 100 characters of its text', async () => {
    const fixture = fixtures.cases['tuple-key']!;
    const [tensor, ...others] = await readAll(await openTorch(fixture.path, 'out/key.pt'));
    expect(others).toEqual([]);
    expectAsReported([{ ...tensor!, name: 'key' }], fixture.tensors);
    expect(tensor!.name).toMatch(/^\({41}k, k\), \(k, k\)\), /);
    expect(tensor!.name).toHaveLength(101);
    expect(tensor!.name.endsWith('…')).toBe(true);
  });
});

describe('damaged and hostile archives', () => {
  // Each must fail with one UserError naming the file as the caller shows it: no crash, no other error type.
  refusesEachBadFile(
    [
      ['garbage.pt', 'not a zip archive'],
      ['empty.pt', 'not a zip archive'],
      ['truncated.pt', 'not a zip archive'],
      ['missing-storage.pt', 'has no'],
      ['short-storage.pt', 'holds 44 bytes'],
      ['byteorder.pt', 'not "little" or "big"'],
      ['no-data-pkl.pt', 'data.pkl'],
      ['unknown-opcode.pt', 'unsupported pickle opcode 0xff'],
      ['truncated-pickle.pt', 'past the end of the pickle'],
      ['missing-memo.pt', 'memo entry 5'],
      ['no-stop.pt', 'without a STOP'],
      ['deep-nesting.pt', 'nested more than 64 levels'],
      ['huge-string.pt', 'past the end of the pickle'],
      ['huge-long.pt', 'longer than'],
      ['bad-persistent-id.pt', 'persistent id'],
      ['stack-underflow.pt', 'empty stack'],
      ['protocol-9.pt', 'protocol 9'],
      ['mark-flood.pt', 'stack grows past 1000000 items and marks'],
      ['list-flood.pt', 'hold more than 10000000 items'],
    ],
    (name, displayPath) => openTorch(fixtures.bad[name]!, displayPath),
  );
});

describe("the pickle helper's index", () => {
  // The helper runs the model's code, so its index can alias one range of its bytes file under many names.
  const helperWriting = (tensors: Array<{ name: string; offset: number; length: number }>, bytes: number): PythonRunner => async (args) => {
    const outDir = args.at(-1)!;
    const index = tensors.map((tensor) => ({ ...tensor, dtype: 'uint8', shape: [tensor.length], itemsize: 1 }));
    await writeFile(path.join(outDir, 'index.json'), JSON.stringify({ format: 'pickle', tensors: index, parameters: {} }));
    await writeFile(path.join(outDir, 'tensors.bin'), Buffer.alloc(bytes));
    return { exitCode: 0, stderr: '' };
  };

  it('refuses entries that share bytes, naming both', async () => {
    const run = helperWriting([{ name: 'a', offset: 0, length: 16 }, { name: 'b', offset: 20, length: 4 }, { name: 'c', offset: 8, length: 4 }], 24);
    const error = await rejection(openPickle('/nonexistent/model.pkl', 'shown/as/model.pkl', run));
    expect(error.message).toContain('shown/as/model.pkl');
    expect(error.message).toContain('entries "a" (bytes 0 to 16) and "c" (from byte 8) share bytes');
  });

  it('accepts empty entries at the offset where the next one starts', async () => {
    const run = helperWriting([{ name: 'a', offset: 0, length: 8 }, { name: 'empty', offset: 8, length: 0 }, { name: 'b', offset: 8, length: 8 }], 16);
    const read = await readAll(await openPickle('/nonexistent/model.pkl', 'out/model.pkl', run));
    expect(read.map((tensor) => [tensor.name, tensor.byteLength])).toEqual([['a', 8], ['empty', 0], ['b', 8]]);
  });
});
