import { UserError } from '../../errors.js';
import { checkTensorName, float64Tensor, MAX_TABLE_TENSORS, readTableText, tooManyTensors, utf8Tensor } from './numeric-table.js';
import type { TensorEntry, TensorFile } from './tensor-file.js';

// A CSV numeric table (RFC 4180: comma-separated, fields optionally in double quotes with "" for a quote, LF or CRLF
// lines): a header row, then one row per record. A column whose cells all read as numbers (an empty cell is NaN, as
// pandas writes a missing value) is a float64 tensor named by its header; any other column is its cells' text,
// joined by "\n", compared by bytes (`raw:utf8`). The text is scanned twice, once to type the columns and once to
// fill them, so a column is held only in its final form.

const COMMA = 0x2c;
const QUOTE = 0x22;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BYTE_ORDER_MARK = '\ufeff';
const CSV_TABLE_HINT = 'A CSV table starts with a header row naming each column, then one row per record with as many comma-separated fields.';

/** Decimal numbers, and the non-finite spellings numpy and pandas write (nan, inf, -inf; any case). */
const NUMBER_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE: Record<string, number> = { nan: Number.NaN, inf: Infinity, infinity: Infinity };

function parseCell(cell: string): number | undefined {
  const text = cell.trim();
  if (text === '') return Number.NaN;
  if (NUMBER_PATTERN.test(text)) return Number(text);
  const sign = text[0] === '-' ? -1 : 1;
  const magnitude = NON_FINITE[(text[0] === '-' || text[0] === '+' ? text.slice(1) : text).toLowerCase()];
  return magnitude === undefined ? undefined : sign * magnitude;
}

/** Where the unquoted rest of a field ends: the next comma or line break, or the end of the text. */
function nextDelimiter(text: string, from: number): number {
  for (let i = from; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === COMMA || code === LINE_FEED || code === CARRIAGE_RETURN) return i;
  }
  return text.length;
}

/** The quoted field opening at `open`: its value ("" read as one quote, line breaks kept) and where it closes. */
function readQuoted(text: string, open: number, displayPath: string, line: number): { value: string; end: number } {
  const parts: string[] = [];
  let from = open + 1;
  for (;;) {
    const close = text.indexOf('"', from);
    if (close === -1) throw new UserError(`${displayPath}: the quoted field that starts on line ${line} is never closed`, CSV_TABLE_HINT);
    parts.push(text.slice(from, close));
    if (text.charCodeAt(close + 1) !== QUOTE) return { value: parts.join('"'), end: close + 1 };
    from = close + 2;
  }
}

function countLineFeeds(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/** Calls `onRow` with each row's fields and the line it starts on; blank lines are skipped (as pandas does). */
function forEachRow(text: string, displayPath: string, onRow: (fields: string[], line: number) => void): void {
  let position = text.startsWith(BYTE_ORDER_MARK) ? 1 : 0;
  let line = 1;
  while (position < text.length) {
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text.charCodeAt(position) === QUOTE) {
        const quoted = readQuoted(text, position, displayPath, line);
        field = quoted.value;
        position = quoted.end;
        line += countLineFeeds(field);
      }
      const end = nextDelimiter(text, position);
      fields.push(field + text.slice(position, end));
      const delimiter = text.charCodeAt(end);
      position = end + 1;
      if (delimiter === COMMA) continue;
      if (delimiter === CARRIAGE_RETURN && text.charCodeAt(position) === LINE_FEED) position += 1;
      line += 1;
      break;
    }
    if (fields.length === 1 && fields[0]!.trim() === '') continue;
    onRow(fields, rowLine);
  }
}

/** Header names as pandas reads them: an empty one (the index column to_csv writes) is "Unnamed: <position>". */
function columnNames(header: string[], displayPath: string): string[] {
  if (header.length > MAX_TABLE_TENSORS) throw tooManyTensors(displayPath);
  const names = header.map((name, position) => (name === '' ? `Unnamed: ${position}` : name));
  const seen = new Set<string>();
  for (const name of names) {
    checkTensorName(name, displayPath);
    if (seen.has(name)) throw new UserError(`${displayPath}: the header names the column "${name}" twice`, 'Give every column its own name.');
    seen.add(name);
  }
  return names;
}

export async function openCsvTable(file: string, displayPath: string): Promise<TensorFile> {
  const text = await readTableText(file, displayPath, 'CSV');
  let names: string[] | undefined;
  let numeric: boolean[] = [];
  let rowCount = 0;
  forEachRow(text, displayPath, (fields, line) => {
    if (names === undefined) {
      names = columnNames(fields, displayPath);
      numeric = names.map(() => true);
      return;
    }
    if (fields.length !== names.length) {
      throw new UserError(`${displayPath}: line ${line} has ${fields.length} fields, but the header names ${names.length} columns`, CSV_TABLE_HINT);
    }
    fields.forEach((field, column) => {
      if (numeric[column] && parseCell(field) === undefined) numeric[column] = false;
    });
    rowCount += 1;
  });
  if (names === undefined) throw new UserError(`${displayPath}: the CSV table is empty (not even a header row)`, CSV_TABLE_HINT);

  const numbers = numeric.map((isNumeric) => (isNumeric ? new Float64Array(rowCount) : undefined));
  const cells = numeric.map((isNumeric) => (isNumeric ? undefined : new Array<string>(rowCount)));
  let row = -1;
  forEachRow(text, displayPath, (fields) => {
    if (row >= 0) {
      fields.forEach((field, column) => {
        const columnNumbers = numbers[column];
        if (columnNumbers) columnNumbers[row] = parseCell(field)!;
        else cells[column]![row] = field;
      });
    }
    row += 1;
  });
  const tensors: TensorEntry[] = names.map((name, column) => {
    const columnNumbers = numbers[column];
    return columnNumbers ? float64Tensor(name, [rowCount], columnNumbers) : utf8Tensor(name, cells[column]!.join('\n'));
  });
  return { format: 'csv', tensors, close: async () => {} };
}
