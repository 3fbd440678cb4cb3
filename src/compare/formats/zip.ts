// The members of a zip archive (npz, PyTorch archives) read without unpacking them. Only what those writers produce
// is supported: stored and deflated members, ZIP64, one disk, no encryption. Every size and offset in the archive is
// checked against the file before use.

import type { FileHandle } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { UserError } from '../../errors.js';
import { fileRangeSource, readAt, type ByteSource, type OpenedFile } from './byte-source.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; anything else is refused when the entry is read. */
  method: number;
  flags: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Where the member's stored (possibly compressed) bytes start, after its local header. */
  dataOffset: number;
}

/** An entry as the central directory lists it, before its local header is read. */
type ListedEntry = Omit<ZipEntry, 'dataOffset'>;

const END_OF_DIRECTORY_SIGNATURE = 0x06054b50;
const END_OF_DIRECTORY_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_END_OF_DIRECTORY_SIGNATURE = 0x06064b50;
const ZIP64_END_OF_DIRECTORY_BYTES = 56;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_BYTES = 30;
const ZIP64_EXTRA_ID = 0x0001;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8_NAME = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const MAX_ENTRIES = 100_000;
const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
// Compressed bytes per read while inflating; the inflated output is regrouped into the caller's chunk size.
const INFLATE_READ_BYTES = 1024 * 1024;

/** A read-only view of a zip archive; entries are listed on open, members are read on demand. */
export class ZipArchive {
  /** In central directory order. */
  readonly entries: readonly ZipEntry[];

  private constructor(
    private readonly handle: FileHandle,
    private readonly displayPath: string,
    private readonly hint: string,
    private readonly byName: ReadonlyMap<string, ZipEntry>,
  ) {
    this.entries = [...byName.values()];
  }

  /** `hint` says how to write a file the caller can read (e.g. "Save it with numpy.savez"); it goes with every error. */
  static async open(file: OpenedFile, displayPath: string, hint: string): Promise<ZipArchive> {
    const fail = (what: string) => new UserError(`${displayPath}: ${what}`, hint);
    const fileSize = file.source.size;
    const read = async (position: number, length: number) => new DataView((await readAt(file.handle, position, length, displayPath)).buffer);

    const tailStart = Math.max(0, fileSize - END_OF_DIRECTORY_BYTES - MAX_COMMENT_BYTES);
    const tail = await read(tailStart, fileSize - tailStart);
    const endRecord = findEndOfDirectory(tail);
    if (endRecord === undefined) {
      throw fail(`not a zip archive (no end-of-central-directory record in its last ${tail.byteLength} bytes)`);
    }
    let directoryEnd = tailStart + endRecord;
    let disk = tail.getUint16(endRecord + 4, true);
    let directoryDisk = tail.getUint16(endRecord + 6, true);
    let entryCount = tail.getUint16(endRecord + 10, true);
    let directorySize = tail.getUint32(endRecord + 12, true);
    let directoryOffset = tail.getUint32(endRecord + 16, true);

    const locator = endRecord - ZIP64_LOCATOR_BYTES;
    if (locator >= 0 && tail.getUint32(locator, true) === ZIP64_LOCATOR_SIGNATURE) {
      const zip64Offset = safeUint64(tail, locator + 8, () => fail('its ZIP64 locator holds an offset beyond any file size'));
      if (zip64Offset + ZIP64_END_OF_DIRECTORY_BYTES > tailStart + locator) {
        throw fail(`its ZIP64 end-of-central-directory offset ${zip64Offset} points past the records that follow it`);
      }
      const zip64 = await read(zip64Offset, ZIP64_END_OF_DIRECTORY_BYTES);
      if (zip64.getUint32(0, true) !== ZIP64_END_OF_DIRECTORY_SIGNATURE) {
        throw fail(`no ZIP64 end-of-central-directory record at byte ${zip64Offset}, where its locator points`);
      }
      const field = (at: number) => safeUint64(zip64, at, () => fail('its ZIP64 end-of-central-directory record holds a size beyond any file size'));
      directoryEnd = zip64Offset;
      disk = zip64.getUint32(16, true);
      directoryDisk = zip64.getUint32(20, true);
      entryCount = field(32);
      directorySize = field(40);
      directoryOffset = field(48);
    }

    if (disk !== 0 || directoryDisk !== 0) throw fail('it is one part of a split (multi-disk) zip archive');
    if (entryCount > MAX_ENTRIES) throw fail(`it lists ${entryCount} entries, more than the ${MAX_ENTRIES} repro-gate reads`);
    if (directorySize > MAX_CENTRAL_DIRECTORY_BYTES) {
      throw fail(`its central directory is ${directorySize} bytes, more than the ${MAX_CENTRAL_DIRECTORY_BYTES} repro-gate reads`);
    }
    if (directoryOffset + directorySize > directoryEnd) {
      throw fail(
        `its central directory (${directorySize} bytes at byte ${directoryOffset}) runs past byte ${directoryEnd}, where its end record is; the file is truncated or damaged`,
      );
    }
    const directory = await read(directoryOffset, directorySize);
    const entries = new Map<string, ZipEntry>();
    for (const listed of parseCentralDirectory(directory, entryCount, directoryOffset, fail).values()) {
      // Members' data lies before the central directory.
      entries.set(listed.name, await locateData(listed, read, directoryOffset, fail));
    }
    refuseOverlaps([...entries.values()], fail);
    return new ZipArchive(file.handle, displayPath, hint, entries);
  }

  find(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The member's uncompressed bytes; checks its method and encryption before anything is streamed. */
  entrySource(entry: ZipEntry): ByteSource {
    const fail = (what: string) => new UserError(`${this.displayPath}: zip entry ${entry.name}: ${what}`, this.hint);
    if (entry.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) throw fail('it is encrypted');
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
      throw fail(`compression method ${entry.method} is not supported (only stored and deflated members are read)`);
    }
    if (entry.method === METHOD_STORED && entry.compressedSize !== entry.uncompressedSize) {
      throw fail(`it is stored uncompressed, yet declares ${entry.compressedSize} bytes stored and ${entry.uncompressedSize} bytes of content`);
    }
    if (entry.method === METHOD_STORED) return fileRangeSource(this.handle, entry.dataOffset, entry.uncompressedSize, this.displayPath);
    return deflatedSource(this.handle, entry, this.displayPath, fail);
  }
}

/** Where a member's data starts: its local header is read when the archive is opened, so every member's range is known. */
async function locateData(
  entry: ListedEntry,
  read: (position: number, length: number) => Promise<DataView>,
  dataEnd: number,
  fail: (what: string) => UserError,
): Promise<ZipEntry> {
  const where = `zip entry ${entry.name}`;
  const header = await read(entry.localHeaderOffset, LOCAL_HEADER_BYTES);
  if (header.getUint32(0, true) !== LOCAL_HEADER_SIGNATURE) {
    throw fail(`${where}: no local header at byte ${entry.localHeaderOffset}, where the central directory points`);
  }
  const dataOffset = entry.localHeaderOffset + LOCAL_HEADER_BYTES + header.getUint16(26, true) + header.getUint16(28, true);
  if (dataOffset + entry.compressedSize > dataEnd) {
    throw fail(`${where}: its ${entry.compressedSize} bytes at byte ${dataOffset} run past byte ${dataEnd}, where the central directory starts`);
  }
  return { ...entry, dataOffset };
}

/**
 * No writer lets two members share bytes, and a hostile archive that does multiplies the work of reading it: a
 * thousand directory entries pointing at one deflate stream inflate it a thousand times. Each member's range runs
 * from its local header to the end of its data.
 */
function refuseOverlaps(entries: ZipEntry[], fail: (what: string) => UserError): void {
  const byStart = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let index = 1; index < byStart.length; index++) {
    const [previous, entry] = [byStart[index - 1]!, byStart[index]!];
    const previousEnd = previous.dataOffset + previous.compressedSize;
    // Ranges are never empty (a local header is 30 bytes), so ranges that do not overlap their neighbour end in order.
    if (entry.localHeaderOffset < previousEnd) {
      throw fail(
        `zip entries ${previous.name} and ${entry.name} overlap: ${previous.name} runs from byte ${previous.localHeaderOffset} to byte ${previousEnd}, and ${entry.name} starts at byte ${entry.localHeaderOffset}`,
      );
    }
  }
}

function findEndOfDirectory(tail: DataView): number | undefined {
  for (let at = tail.byteLength - END_OF_DIRECTORY_BYTES; at >= 0; at--) {
    if (tail.getUint32(at, true) !== END_OF_DIRECTORY_SIGNATURE) continue;
    if (at + END_OF_DIRECTORY_BYTES + tail.getUint16(at + 20, true) <= tail.byteLength) return at;
  }
  return undefined;
}

function safeUint64(view: DataView, at: number, tooLarge: () => UserError): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw tooLarge();
  return Number(value);
}

function parseCentralDirectory(
  directory: DataView,
  entryCount: number,
  directoryOffset: number,
  fail: (what: string) => UserError,
): Map<string, ListedEntry> {
  const entries = new Map<string, ListedEntry>();
  let at = 0;
  for (let index = 0; index < entryCount; index++) {
    const where = `central directory entry ${index + 1} (byte ${directoryOffset + at})`;
    if (at + CENTRAL_HEADER_BYTES > directory.byteLength || directory.getUint32(at, true) !== CENTRAL_HEADER_SIGNATURE) {
      throw fail(`${where} is missing or damaged`);
    }
    const flags = directory.getUint16(at + 8, true);
    const nameLength = directory.getUint16(at + 28, true);
    const extraLength = directory.getUint16(at + 30, true);
    const commentLength = directory.getUint16(at + 32, true);
    const next = at + CENTRAL_HEADER_BYTES + nameLength + extraLength + commentLength;
    if (next > directory.byteLength) throw fail(`${where} runs past the end of the central directory`);
    const nameBytes = new Uint8Array(directory.buffer, at + CENTRAL_HEADER_BYTES, nameLength);
    // Without the UTF-8 flag names are CP437; the writers read here (numpy, torch) only use ASCII, where the two agree.
    const name = new TextDecoder(flags & FLAG_UTF8_NAME ? 'utf-8' : 'latin1').decode(nameBytes);
    const sizes = {
      uncompressedSize: directory.getUint32(at + 24, true),
      compressedSize: directory.getUint32(at + 20, true),
      localHeaderOffset: directory.getUint32(at + 42, true),
    };
    applyZip64Extra(sizes, new DataView(directory.buffer, at + CENTRAL_HEADER_BYTES + nameLength, extraLength), (what) =>
      fail(`zip entry ${name}: ${what}`),
    );
    if (sizes.localHeaderOffset + LOCAL_HEADER_BYTES + sizes.compressedSize > directoryOffset) {
      throw fail(
        `zip entry ${name}: its data (${sizes.compressedSize} bytes after the local header at byte ${sizes.localHeaderOffset}) runs past byte ${directoryOffset}, where the central directory starts`,
      );
    }
    if (entries.has(name)) throw fail(`zip entry ${name} appears twice`);
    entries.set(name, { name, method: directory.getUint16(at + 10, true), flags, ...sizes });
    at = next;
  }
  return entries;
}

type EntrySizes = Pick<ZipEntry, 'uncompressedSize' | 'compressedSize' | 'localHeaderOffset'>;

/** Fields saturated at 0xFFFFFFFF hold their real value in the ZIP64 extra field, in this order. */
function applyZip64Extra(sizes: EntrySizes, extra: DataView, fail: (what: string) => UserError): void {
  const saturated = (['uncompressedSize', 'compressedSize', 'localHeaderOffset'] as const).filter((field) => sizes[field] === 0xffffffff);
  if (saturated.length === 0) return;
  for (let at = 0; at + 4 <= extra.byteLength; ) {
    const id = extra.getUint16(at, true);
    const length = extra.getUint16(at + 2, true);
    if (at + 4 + length > extra.byteLength) break;
    if (id === ZIP64_EXTRA_ID) {
      if (length < saturated.length * 8) throw fail('its ZIP64 extra field is too short for the sizes it must hold');
      saturated.forEach((field, index) => {
        sizes[field] = safeUint64(extra, at + 4 + index * 8, () => fail('its ZIP64 extra field holds a size beyond any file size'));
      });
      return;
    }
    at += 4 + length;
  }
  throw fail('its sizes need a ZIP64 extra field, which is missing');
}

function deflatedSource(
  handle: FileHandle,
  entry: ZipEntry,
  displayPath: string,
  fail: (what: string) => UserError,
): ByteSource {
  const declared = entry.uncompressedSize;
  const compressed = fileRangeSource(handle, entry.dataOffset, entry.compressedSize, displayPath);
  return {
    size: declared,
    async *stream(start, chunkBytes) {
      // Not an fs read stream: destroying one (when the caller stops early) would close the shared file handle.
      const inflated = pipeline(Readable.from(compressed.stream(0, INFLATE_READ_BYTES)), createInflateRaw(), () => {});
      let produced = 0;
      let pending = new Uint8Array(Math.min(chunkBytes, declared - start));
      let filled = 0;
      try {
        for await (const piece of inflated as AsyncIterable<Buffer>) {
          if (produced + piece.length > declared) {
            throw fail(`it inflates to more than the ${declared} bytes its directory declares (a damaged entry or a zip bomb)`);
          }
          // Bytes before \`start\` are inflated and dropped: deflate cannot seek.
          let from = Math.max(0, start - produced);
          produced += piece.length;
          while (from < piece.length) {
            const taken = Math.min(piece.length - from, pending.length - filled);
            pending.set(piece.subarray(from, from + taken), filled);
            filled += taken;
            from += taken;
            if (filled === pending.length) {
              yield pending;
              pending = new Uint8Array(Math.min(chunkBytes, declared - (produced - (piece.length - from))));
              filled = 0;
            }
          }
        }
      } catch (error) {
        if (error instanceof UserError) throw error;
        throw fail(`its deflate data is damaged (${error instanceof Error ? error.message : String(error)})`);
      } finally {
        inflated.destroy();
      }
      if (produced < declared) throw fail(`it inflates to ${produced} bytes, fewer than the ${declared} its directory declares`);
    },
  };
}
