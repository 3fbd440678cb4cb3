import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openNpy } from '../../src/compare/formats/npy.js';
import { openNpz } from '../../src/compare/formats/npz.js';
import { expectAsReported, expectWellChunked, readAll, refusesEachBadFile, rejection, type ExpectedTensor } from '../support/tensor-readers.js';
import { runTensorPython } from '../support/tensor-venv.js';

// numpy writes every fixture (and the damaged ones, by editing real files) and reports what each array holds:
// its dtype, shape, and the sha256 of its elements little-endian in storage order (Fortran order for Fortran arrays,
// whose name says so: numpy's own header logic decides which arrays it saves in Fortran order).
const FIXTURES = String.raw`
import hashlib, io, json, os, struct, sys, zipfile
import numpy as np
out = sys.argv[1]
NUMERIC = {'bool', 'float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'}
rng = np.random.default_rng(0)

def expected(name, arr):
    numeric = arr.dtype.fields is None and arr.dtype.name in NUMERIC
    if numeric:
        data = arr.astype(arr.dtype.newbyteorder('<'), order='K').tobytes(order='A')
        dtype = arr.dtype.name
    else:
        data = arr.tobytes(order='A')
        descr = np.lib.format.dtype_to_descr(arr.dtype)
        dtype = 'raw:' + (descr if isinstance(descr, str) else repr(descr))
    if np.lib.format.header_data_from_array_1_0(arr)['fortran_order']:
        name += ' (Fortran order)'
    return {'name': name, 'dtype': dtype, 'shape': list(arr.shape), 'sha256': hashlib.sha256(data).hexdigest(), 'byteLength': len(data)}

arrays = {
    'v1': (np.arange(12, dtype='<f4').reshape(3, 4) / 7, (1, 0)),
    'v2': (np.arange(-3, 3, dtype='<i8').reshape(2, 3), (2, 0)),
    'v3': (rng.standard_normal(5).astype('<f8'), (3, 0)),
    'v3_structured': (np.array([(1, 2.5), (3, -1.0)], dtype=[('\u00e9', '<i4'), ('b', '>f8', (2,))]), (3, 0)),
    'big_f8': (rng.standard_normal((2, 3)).astype('>f8'), None),
    'big_i4': (np.arange(-5, 5, dtype='>i4'), None),
    'big_f2': (np.linspace(-2, 2, 7).astype('>f2'), None),
    'big_u2': (np.arange(0, 60000, 7000, dtype='>u2'), None),
    'fortran': (np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4)), None),
    'scalar': (np.array(3.5, dtype='<f4'), None),
    'empty': (np.zeros((0, 3), dtype='<f8'), None),
    'bool': (np.array([True, False, True, True]), None),
    'float16': (np.linspace(-1, 1, 9).astype('<f2'), None),
    'uint8': (np.arange(200, 256, dtype='u1'), None),
    'int8': (np.arange(-128, 127, 17, dtype='i1'), None),
    'unicode': (np.array(['ab', 'c\u00e9d', '']), None),
    'bytes': (np.array([b'xy', b'z']), None),
    'datetime': (np.array(['2024-01-02', '1999-12-31'], dtype='datetime64[ns]'), None),
    'void': (np.array([b'\x01\x02', b'\x03\x04'], dtype='V2'), None),
    'complex': (np.array([1 + 2j, -3j], dtype='<c8'), None),
    'large': (rng.standard_normal(3_000_000).astype('<f4'), None),
}
result = {'npy': {}, 'npz': {}}
for name, (arr, version) in arrays.items():
    target = os.path.join(out, name + '.npy')
    with open(target, 'wb') as f:
        np.lib.format.write_array(f, arr, version=version)
    result['npy'][name] = {'path': target, 'version': list(np.lib.format.read_magic(open(target, 'rb'))), 'tensors': [expected('array', arr)]}

stored = {'weights': arrays['v1'][0], 'nested/ids': arrays['v2'][0], 'flags': arrays['bool'][0], 'when': arrays['datetime'][0]}
np.savez(os.path.join(out, 'stored.npz'), **stored)
compressed = {'x': arrays['big_f8'][0], 'fortran': arrays['fortran'][0], 'large': arrays['large'][0], 'empty': arrays['empty'][0]}
np.savez_compressed(os.path.join(out, 'compressed.npz'), **compressed)
np.savez(os.path.join(out, 'nothing.npz'))

# ZIP64 throughout (what torch and zipfile write past 4 GiB, too large for a test): saturated sizes and offsets with
# their values in ZIP64 extra fields, and a ZIP64 end record with its locator. zipfile and np.load read it back.
def zip64_archive(members):
    body, directory = b'', b''
    for name, data in members.items():
        name = name.encode()
        crc = zipfile.crc32(data)
        offset = len(body)
        body += struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
        body += name + struct.pack('<HHQQ', 1, 16, len(data), len(data)) + data
        directory += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 28, 0, 0, 0, 0, 0xFFFFFFFF)
        directory += name + struct.pack('<HHQQQ', 1, 24, len(data), len(data), offset)
    end64 = len(body) + len(directory)
    tail = struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, len(members), len(members), len(directory), len(body))
    tail += struct.pack('<IIQI', 0x07064b50, 0, end64, 1)
    tail += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + directory + tail
def npy_bytes(arr):
    buffer = io.BytesIO()
    np.save(buffer, arr)
    return buffer.getvalue()
zip64_members = {'weights': arrays['v1'][0], 'ids': arrays['v2'][0]}
with open(os.path.join(out, 'zip64.npz'), 'wb') as f:
    f.write(zip64_archive({key + '.npy': npy_bytes(arr) for key, arr in zip64_members.items()}))
with np.load(os.path.join(out, 'zip64.npz')) as loaded:
    assert all(np.array_equal(loaded[key], arr) for key, arr in zip64_members.items())
for name, members in [('stored', stored), ('compressed', compressed), ('nothing', {}), ('zip64', zip64_members)]:
    result['npz'][name] = {'path': os.path.join(out, name + '.npz'), 'tensors': [expected(key, arr) for key, arr in members.items()]}
with zipfile.ZipFile(os.path.join(out, 'compressed.npz')) as z:
    result['compressedMethods'] = sorted({info.compress_type for info in z.infolist()})

# A square matrix and its transpose: np.save writes the transpose in Fortran order, with the very same data bytes.
square = rng.standard_normal((3, 3)).astype('<f4')
result['orders'] = {}
for name, arr in [('c', square), ('f', square.T)]:
    np.save(os.path.join(out, 'order-' + name + '.npy'), arr)
    np.savez(os.path.join(out, 'order-' + name + '.npz'), w=arr)
    result['orders'][name] = {'npy': {'path': os.path.join(out, 'order-' + name + '.npy'), 'tensors': [expected('array', arr)]},
                              'npz': {'path': os.path.join(out, 'order-' + name + '.npz'), 'tensors': [expected('w', arr)]}}
def data_of(name):
    with open(os.path.join(out, 'order-' + name + '.npy'), 'rb') as f:
        assert np.lib.format.read_magic(f) == (1, 0)
        np.lib.format.read_array_header_1_0(f)
        return f.read()
assert data_of('c') == data_of('f') == square.tobytes() and not np.array_equal(square, square.T)

bad = {}
def write_bad(name, data):
    path = os.path.join(out, 'bad-' + name)
    with open(path, 'wb') as f:
        f.write(data)
    bad[name] = path

v1 = open(result['npy']['v1']['path'], 'rb').read()
write_bad('truncated.npy', v1[:-5])
write_bad('trailing.npy', v1 + b'\0\0\0\0')
header = io.BytesIO()
np.lib.format.write_array_header_1_0(header, {'descr': '<f4', 'fortran_order': False, 'shape': (1000,)})
write_bad('shape-too-large.npy', header.getvalue() + np.arange(10, dtype='<f4').tobytes())
write_bad('header-past-end.npy', b'\x93NUMPY\x01\x00' + struct.pack('<H', 60000) + b"{'descr': '<f4'")
write_bad('header-too-long.npy', b'\x93NUMPY\x02\x00' + struct.pack('<I', 0xFFFFFFF0) + b"{'descr': '<f4'")
write_bad('garbage.npy', bytes(range(256)) * 8)
write_bad('empty.npy', b'')
write_bad('magic-only.npy', b'\x93NUMPY\x01')
write_bad('version-9.npy', b'\x93NUMPY\x09\x00' + v1[8:])
def with_header(text):
    body = text.encode('latin1')
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(body)) + body
write_bad('not-a-literal.npy', with_header("{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (0,), }\n"))
write_bad('extra-key.npy', with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), 'x': 1, }\n"))
write_bad('negative-shape.npy', with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n"))
write_bad('deep-literal.npy', with_header("{'descr': " + '[' * 20000 + ']' * 20000 + ", 'fortran_order': False, 'shape': (0,), }\n"))
write_bad('unknown-descr.npy', with_header("{'descr': '<q9', 'fortran_order': False, 'shape': (0,), }\n"))
object_file = io.BytesIO()
np.save(object_file, np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
write_bad('object.npy', object_file.getvalue())

npz = open(result['npz']['stored']['path'], 'rb').read()
eocd = npz.rfind(b'PK\x05\x06')
central = npz.find(b'PK\x01\x02')
def patched(data, at, fmt, value):
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt):]
write_bad('directory-offset-past-end.npz', patched(npz, eocd + 16, '<I', 0x7FFFFFF0))
write_bad('directory-size-past-end.npz', patched(npz, eocd + 12, '<I', len(npz)))
write_bad('entry-offset-past-end.npz', patched(npz, central + 42, '<I', len(npz) + 100))
write_bad('method-bzip2.npz', patched(npz, central + 10, '<H', 12))
write_bad('encrypted.npz', patched(npz, central + 8, '<H', 1))
write_bad('truncated.npz', npz[: len(npz) // 2])
write_bad('garbage.npz', bytes(range(256)) * 8)
members = io.BytesIO()
with zipfile.ZipFile(members, 'w') as z:
    z.writestr('readme.txt', 'not an array')
write_bad('not-npy-member.npz', members.getvalue())
lying = io.BytesIO()
with zipfile.ZipFile(lying, 'w') as z:
    z.writestr('x.npy', header.getvalue() + np.arange(10, dtype='<f4').tobytes())
write_bad('member-shape-too-large.npz', lying.getvalue())

# A deflated member whose stream inflates past the size its directory declares: a valid small .npy, then 2 MiB
# of zeros the directory does not admit to.
small = io.BytesIO()
np.save(small, np.arange(4, dtype='<f4'))
bomb = io.BytesIO()
with zipfile.ZipFile(bomb, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('x.npy', small.getvalue() + bytes(2 * 1024 * 1024))
bomb = bomb.getvalue()
write_bad('zip-bomb.npz', patched(bomb, bomb.find(b'PK\x01\x02') + 24, '<I', len(small.getvalue())))
# A deflated member whose directory (and .npy header) declare 80 bytes of data, of which the stream holds 16.
claims_more = io.BytesIO()
np.lib.format.write_array_header_1_0(claims_more, {'descr': '<f4', 'fortran_order': False, 'shape': (20,)})
short = io.BytesIO()
with zipfile.ZipFile(short, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('x.npy', claims_more.getvalue() + np.arange(4, dtype='<f4').tobytes())
short = short.getvalue()
write_bad('deflate-short.npz', patched(short, short.find(b'PK\x01\x02') + 24, '<I', len(claims_more.getvalue()) + 80))
# A thousand directory entries for one deflated member, each under its own name: reading them all would inflate
# the same stream a thousand times.
one = io.BytesIO()
with zipfile.ZipFile(one, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('m0000.npy', npy_bytes(np.zeros(100_000, dtype='<f8')))
one = one.getvalue()
central, eocd = one.find(b'PK\x01\x02'), one.rfind(b'PK\x05\x06')
directory = b''.join(one[central:eocd].replace(b'm0000.npy', b'm%04d.npy' % i) for i in range(1000))
end = struct.pack('<HHI', 1000, 1000, len(directory))
write_bad('aliased-members.npz', one[:central] + directory + one[eocd:eocd + 8] + end + one[eocd + 16:])
compressed_file = open(result['npz']['compressed']['path'], 'rb').read()
first = zipfile.ZipFile(result['npz']['compressed']['path']).infolist()[0]
start = first.header_offset + 30 + len(first.filename) + len(first.extra) + 20
corrupt = bytearray(compressed_file)
for i in range(start, start + 40):
    corrupt[i] ^= 0x5A
write_bad('deflate-corrupt.npz', bytes(corrupt))
result['bad'] = bad
print(json.dumps(result))
`;

interface Fixtures {
  npy: Record<string, { path: string; version: number[]; tensors: ExpectedTensor[] }>;
  npz: Record<string, { path: string; tensors: ExpectedTensor[] }>;
  compressedMethods: number[];
  orders: Record<'c' | 'f', Record<'npy' | 'npz', { path: string; tensors: ExpectedTensor[] }>>;
  bad: Record<string, string>;
}

let fixtures: Fixtures;
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-npy-'));
  fixtures = JSON.parse(await runTensorPython(FIXTURES, [dir])) as Fixtures;
});

describe('openNpy', () => {
  it('writes the fixtures with the header versions they test', () => {
    expect(fixtures.npy.v1!.version).toEqual([1, 0]);
    expect(fixtures.npy.v2!.version).toEqual([2, 0]);
    expect(fixtures.npy.v3!.version).toEqual([3, 0]);
    expect(fixtures.npy.v3_structured!.version).toEqual([3, 0]);
  });

  // Every header version, big-endian numbers, both memory orders, 0-d and empty shapes, each dtype kind.
  it.each([
    'v1', 'v2', 'v3', 'v3_structured',
    'big_f8', 'big_i4', 'big_f2', 'big_u2',
    'fortran', 'scalar', 'empty',
    'bool', 'float16', 'uint8', 'int8',
    'unicode', 'bytes', 'datetime', 'void', 'complex',
  ])('reads %s as numpy wrote it: dtype, shape and little-endian bytes in storage order', async (name) => {
    const fixture = fixtures.npy[name]!;
    expectAsReported(await readAll(await openNpy(fixture.path, `out/${name}.npy`)), fixture.tensors);
  });

  it('names numeric dtypes numerically and everything else raw, as numpy spells it', async () => {
    const dtypeOf = async (name: string) => (await readAll(await openNpy(fixtures.npy[name]!.path, name)))[0]!.dtype;
    expect(await dtypeOf('big_f8')).toBe('float64');
    expect(await dtypeOf('unicode')).toBe('raw:<U3');
    expect(await dtypeOf('void')).toBe('raw:|V2');
    expect(await dtypeOf('v3_structured')).toBe("raw:[('é', '<i4'), ('b', '>f8', (2,))]");
  });

  it('streams a tensor larger than one chunk in several bounded chunks', async () => {
    const fixture = fixtures.npy.large!;
    const tensors = await readAll(await openNpy(fixture.path, 'out/large.npy'));
    expectAsReported(tensors, fixture.tensors);
    expect(tensors[0]!.chunkSizes.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses object arrays with a message that says why', async () => {
    const error = await rejection(openNpy(fixtures.bad['object.npy']!, 'out/objects.npy'));
    expect(error.message).toContain('out/objects.npy');
    expect(error.message).toContain('dtype object');
  });
});

describe('openNpz', () => {
  it.each(['stored', 'compressed', 'nothing', 'zip64'])('reads the %s archive: one tensor per member, named by its key', async (name) => {
    const fixture = fixtures.npz[name]!;
    expectAsReported(await readAll(await openNpz(fixture.path, `out/${name}.npz`)), fixture.tensors);
  });

  it('inflates the compressed archive through its deflate streams, the large member in bounded chunks', async () => {
    expect(fixtures.compressedMethods).toEqual([8]);
    const tensors = await readAll(await openNpz(fixtures.npz.compressed!.path, 'out/compressed.npz'));
    const large = tensors.find((tensor) => tensor.name === 'large')!;
    expect(large.chunkSizes.length).toBeGreaterThanOrEqual(3);
    expectWellChunked(large);
  });
});

describe('memory order', () => {
  it.each([
    ['npy', openNpy, 'array (Fortran order)'],
    ['npz', openNpz, 'w (Fortran order)'],
  ] as const)('names a Fortran-ordered %s array so: a transpose saved with the same bytes is never identical', async (kind, open, fortranName) => {
    const { c, f } = fixtures.orders;
    const read = await readAll(await open(c[kind].path, `out/w.${kind}`));
    const readTransposed = await readAll(await open(f[kind].path, `out/w.${kind}`));
    expectAsReported(read, c[kind].tensors);
    expectAsReported(readTransposed, f[kind].tensors);
    expect(readTransposed.map((tensor) => tensor.name)).toEqual([fortranName]);
    expect(readTransposed[0]!.sha256).toBe(read[0]!.sha256);
  });
});

describe('damaged and hostile files', () => {
  // Each must fail with one UserError naming the file as the caller shows it, while opening or while streaming.
  refusesEachBadFile(
    [
      ['truncated.npy', 'the header declares'],
      ['trailing.npy', 'the header declares'],
      ['shape-too-large.npy', 'the header declares 4000 bytes'],
      ['header-past-end.npy', 'past the end'],
      ['header-too-long.npy', 'more than the'],
      ['garbage.npy', 'magic'],
      ['empty.npy', 'magic'],
      ['magic-only.npy', 'magic'],
      ['version-9.npy', 'version 9.0'],
      ['not-a-literal.npy', 'not a valid Python literal'],
      ['extra-key.npy', 'exactly descr, fortran_order and shape'],
      ['negative-shape.npy', 'not a non-negative dimension'],
      ['deep-literal.npy', 'nesting too deep'],
      ['unknown-descr.npy', 'not one numpy writes'],
      ['directory-offset-past-end.npz', 'central directory'],
      ['directory-size-past-end.npz', 'central directory'],
      ['entry-offset-past-end.npz', 'runs past byte'],
      ['method-bzip2.npz', 'compression method 12'],
      ['encrypted.npz', 'encrypted'],
      ['truncated.npz', 'zip'],
      ['garbage.npz', 'not a zip archive'],
      ['not-npy-member.npz', 'readme.txt is not an .npy array'],
      ['member-shape-too-large.npz', 'member x.npy'],
      ['zip-bomb.npz', 'inflates to more than'],
      ['deflate-short.npz', 'fewer than'],
      ['deflate-corrupt.npz', 'deflate data is damaged'],
      ['aliased-members.npz', 'zip entries m0000.npy and m0001.npy overlap'],
    ],
    (name, displayPath) => (name.endsWith('.npz') ? openNpz : openNpy)(fixtures.bad[name]!, displayPath),
  );

  it('rejects a folder as not a regular file', async () => {
    const error = await rejection(openNpy(path.dirname(fixtures.npy.v1!.path), 'out/dir.npy'));
    expect(error.message).toContain('out/dir.npy is a folder');
  });
});
