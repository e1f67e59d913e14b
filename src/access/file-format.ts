/**
 * The registry file formats: a users file and a torrents file, each YAML (a list of mappings)
 * or CSV (a header row naming the columns), chosen by extension (.csv → CSV, else YAML).
 *
 *   users.yaml:    - {passkey: 0123456789abcdef0123456789abcdef, site_id: 1, enabled: true, can_leech: true}
 *   users.csv:     passkey,site_id,enabled,can_leech
 *   torrents.csv:  info_hash,site_id,banned,download_multiplier,upload_multiplier
 *
 * Only `passkey` / `info_hash` is required; unknown columns or keys are refused (a typo must not
 * silently fall back to a default). CSV is the format for large lists: it parses an order of
 * magnitude faster than YAML. Values never need quoting, so quoted CSV fields are refused.
 */
import { parse } from 'yaml';
import { isAscii } from 'node:buffer';
import { WorkSlicer } from '../work-slicer.js';
import { RecordError, torrentFromRow, torrentToJson, userFromRow, userToJson, type TorrentRecord, type UserRecord } from './records.js';

export type FileFormat = 'yaml' | 'csv';

export const USER_COLUMNS = ['passkey', 'site_id', 'enabled', 'can_leech'] as const;
export const TORRENT_COLUMNS = ['info_hash', 'site_id', 'banned', 'download_multiplier', 'upload_multiplier'] as const;

export function formatOf(path: string): FileFormat {
  return path.toLowerCase().endsWith('.csv') ? 'csv' : 'yaml';
}

/** A file that cannot be read as a registry list; names the file and the line or entry. */
export class RegistryFileError extends Error {
  constructor(readonly path: string, where: string, reason: string) {
    super(`${path}: ${where}: ${reason}`);
    this.name = 'RegistryFileError';
  }
}

/** A row and where it is: "line N" of a CSV file, "entry N" of a YAML list (the text is built only for an error). */
type Row = { at: number; kind: 'line' | 'entry'; row: Record<string, unknown> };
const whereOf = (r: { at: number; kind: string }) => `${r.kind} ${r.at}`;

function rowsOf(text: string, format: FileFormat, path: string, columns: readonly string[], required: string): Iterable<Row> {
  return format === 'csv' ? csvRows(text, path, columns, required) : yamlRows(text, path, columns, required);
}

/**
 * The lines of a CSV file that hold something (not blank, not a # comment), without a trailing \r.
 * One at a time with indexOf, not split: splitting 100,000 lines at once held the event loop for
 * tens of milliseconds before the first slice of a reload (work-slicer.ts).
 *
 * Over bytes (a file as read), each line becomes a string of its own and the file is never one
 * string: a 5 MB users file read as text was a 5 MB string in V8's large-object space, which is
 * old generation from birth, one per reload, on the way to the next full mark-compact. A Buffer
 * lives outside the heap, and a line's string is young and dies young unless the memo keeps it.
 * ASCII files (passkeys, hashes, numbers) are decoded as latin1, the fastest decode. Over a
 * text (tests, tools), lines are slices of it.
 */
function* csvLines(text: string | Buffer): Generator<{ at: number; line: string }> {
  const bytes = typeof text === 'string' ? undefined : text;
  const decoding = bytes !== undefined && isAscii(bytes) ? 'latin1' : 'utf8';
  let at = 0;
  for (let start = 0; start <= text.length; ) {
    let end = bytes !== undefined ? bytes.indexOf(NEWLINE, start) : (text as string).indexOf('\n', start);
    if (end < 0) end = text.length;
    at++;
    const last = end > start ? (bytes !== undefined ? bytes[end - 1] : (text as string).charCodeAt(end - 1)) : -1;
    const stop = last === CARRIAGE_RETURN ? end - 1 : end;
    const line = bytes !== undefined ? bytes.toString(decoding, start, stop) : (text as string).slice(start, stop);
    start = end + 1;
    if (line.trim() === '' || line.startsWith('#')) continue;
    yield { at, line };
  }
}
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function csvCells(line: string, at: number, path: string): string[] {
  if (line.includes('"')) throw new RegistryFileError(path, `line ${at}`, 'quoted fields are not supported (values never need quotes)');
  return line.split(',').map((c) => c.trim());
}

/** The header row's columns, checked against the known ones. */
function csvHeader(line: string, at: number, path: string, columns: readonly string[], required: string): string[] {
  const cells = csvCells(line, at, path);
  for (const c of cells) if (!columns.includes(c)) throw new RegistryFileError(path, `line ${at}`, `unknown column "${c}" (known: ${columns.join(', ')})`);
  if (!cells.includes(required)) throw new RegistryFileError(path, `line ${at}`, `the header must name the "${required}" column`);
  return cells;
}

function csvRow(line: string, at: number, path: string, header: readonly string[]): Row {
  const cells = csvCells(line, at, path);
  if (cells.length !== header.length) throw new RegistryFileError(path, `line ${at}`, `${cells.length} fields, the header has ${header.length}`);
  const row: Record<string, unknown> = {};
  for (let c = 0; c < header.length; c++) row[header[c]!] = cells[c];
  return { at, kind: 'line', row };
}

/** Rows one at a time, so a reload can be spread over event-loop turns (parseFileInTurns). */
function* csvRows(text: string, path: string, columns: readonly string[], required: string): Generator<Row> {
  let header: string[] | undefined;
  for (const { at, line } of csvLines(text)) {
    if (header === undefined) header = csvHeader(line, at, path, columns, required);
    else yield csvRow(line, at, path, header);
  }
}

/** A line of the memo: its record, and the parse that last found it. */
interface MemoLine<T> {
  readonly record: T;
  seen: number;
}

/** What a parse found against the one before it: records of new lines, and of lines gone. */
export interface CsvChanges<T> {
  readonly added: readonly T[];
  readonly removed: readonly T[];
  /** Distinct lines in the file now (the same line twice is one record). */
  readonly lines: number;
}

/**
 * What the last parse of a CSV file made of each of its lines. The same line under the same
 * header is the same record, so a reload takes the record of every line it has seen before
 * instead of parsing and checking it again: a reload of 100,000 users where a few changed does a
 * Map lookup per line (~0.2 µs) instead of splitting, checking and building a record (~1 µs).
 *
 * The memo is kept and updated in place, and a parse says what changed (`lastChanges`), so that
 * a reload where a few lines changed allocates only for those lines. A reload used to build a new
 * map of every line, and its caller a new map of every record: ~20 MB for 100,000 users that
 * lived through the reload's seconds of slices, were promoted to the old generation, and brought
 * the full mark-compacts that held announces for tens of milliseconds (BENCHMARKS.md, issue 14).
 * One parse at a time per memo (the file source serializes them).
 */
export class CsvLineMemo<T> {
  header: string | undefined;
  byLine = new Map<string, MemoLine<T>>();
  /** Parses so far: a line's `seen` is the number of the last parse that found it. */
  private parses = 0;
  /**
   * What the last parse that succeeded changed against the memo before it; undefined when the
   * memo had nothing to compare with (the first parse, or a new header: every line is new).
   */
  lastChanges: CsvChanges<T> | undefined;

  nextParse(): number {
    return ++this.parses;
  }
}

/**
 * A copy of a line that does not share the file's text. V8 makes a substring a view on the whole
 * string, so a line kept in the memo, and every cell of its record (the passkey, say), would keep
 * the text of the file it first appeared in alive: one whole file per reload that changed a line.
 */
const ownCopy = (line: string) => Buffer.from(line, 'utf8').toString('utf8');

/** As convertInTurns over csvRows, taking the records of lines the memo holds; the memo then holds this file's lines. */
async function csvRecordsInTurns<T>(
  text: string | Buffer, path: string, columns: readonly string[], required: string, fn: (r: Record<string, unknown>) => T, memo: CsvLineMemo<T>,
): Promise<T[]> {
  const out: T[] = [];
  const slicer = new WorkSlicer();
  const parse = memo.nextParse();
  let header: string[] | undefined;
  let headerLine = '';
  // The memo's lines, if they were read under the same header (else the same text may mean another record).
  let known: Map<string, MemoLine<T>> | undefined;
  const fresh = new Map<string, MemoLine<T>>();
  const added: T[] = [];
  let found = 0;
  // Lines of a Buffer are strings of their own; lines of a text are views of it (ownCopy).
  const views = typeof text === 'string';
  for (const { at, line } of csvLines(text)) {
    if (header === undefined) {
      header = csvHeader(line, at, path, columns, required);
      headerLine = line;
      if (memo.header === line) known = memo.byLine;
      continue;
    }
    let entry = known?.get(line);
    if (entry !== undefined) {
      if (entry.seen !== parse) found++;
      entry.seen = parse;
    } else {
      entry = fresh.get(line); // the same new line twice
      if (entry === undefined) {
        // The first parse may keep views of its text (the memo then holds that text once).
        const own = known === undefined || !views ? line : ownCopy(line);
        entry = { record: convertOne(csvRow(own, at, path, header), path, fn), seen: parse };
        fresh.set(own, entry);
        added.push(entry.record);
      }
    }
    out.push(entry.record);
    if (slicer.due()) await slicer.nextTurn();
  }
  // Only a file that parsed whole changes the memo (a bad file leaves it as it was: lines it
  // marked as seen carry a parse number no later parse will have).
  memo.header = header === undefined ? undefined : headerLine;
  if (known === undefined) {
    memo.byLine = fresh;
    memo.lastChanges = undefined;
    return out;
  }
  const removed: T[] = [];
  if (found < known.size) {
    for (const [line, entry] of known) {
      if (entry.seen === parse) continue;
      removed.push(entry.record);
      known.delete(line);
    }
  }
  for (const [line, entry] of fresh) known.set(line, entry);
  memo.lastChanges = { added, removed, lines: known.size };
  return out;
}

/** One flow mapping per line, as formatUsersFile/formatTorrentsFile write it: `- {key: value, key: "value"}`. */
const FLOW_LINE = /^- \{([^{}]*)\}\s*$/;
const FLOW_PAIR = /^\s*([a-z_]+): ("?)([^",]*)\2\s*$/;

/**
 * The lines of a file privtrak wrote, read without the YAML library (which takes seconds for
 * 100k entries, blocking announces meanwhile). Undefined if any line is in another shape:
 * the caller then parses the file as full YAML.
 */
function flowLines(text: string): Array<Record<string, string>> | undefined {
  const out: Array<Record<string, string>> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    const m = FLOW_LINE.exec(line);
    if (m === null) return undefined;
    const entry: Record<string, string> = {};
    for (const pair of m[1]!.split(',')) {
      if (pair.trim() === '') continue;
      const p = FLOW_PAIR.exec(pair);
      if (p === null || p[1]! in entry) return undefined;
      entry[p[1]!] = p[3]!;
    }
    out.push(entry);
  }
  return out;
}

function yamlRows(text: string, path: string, columns: readonly string[], required: string): Row[] {
  let doc: unknown = text.trim() === '[]' ? [] : flowLines(text);
  if (doc === undefined) {
    try {
      // failsafe: every scalar is a string. A passkey of 32 digits must not become a float.
      doc = parse(text, { schema: 'failsafe' });
    } catch (err) {
      throw new RegistryFileError(path, 'YAML', (err as Error).message);
    }
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new RegistryFileError(path, 'document', 'expected a list of mappings');
  return doc.map((entry: unknown, i) => {
    const where = `entry ${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new RegistryFileError(path, where, 'expected a mapping');
    for (const k of Object.keys(entry)) if (!columns.includes(k)) throw new RegistryFileError(path, where, `unknown key "${k}" (known: ${columns.join(', ')})`);
    if (!(required in entry)) throw new RegistryFileError(path, where, `missing "${required}"`);
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) row[k] = v === 'null' || v === '~' ? null : v;
    return { at: i + 1, kind: 'entry' as const, row };
  });
}

function convertOne<T>(r: Row, path: string, fn: (r: Record<string, unknown>) => T): T {
  try {
    return fn(r.row);
  } catch (err) {
    if (err instanceof RecordError) throw new RegistryFileError(path, whereOf(r), err.message);
    throw err;
  }
}

function convert<T>(rows: Iterable<Row>, path: string, fn: (r: Record<string, unknown>) => T): T[] {
  const out: T[] = [];
  for (const r of rows) out.push(convertOne(r, path, fn));
  return out;
}

/**
 * As convert, but in slices of event-loop time (work-slicer.ts): a tracker reloading a list of
 * 100,000 users while it serves would otherwise hold every announce for the whole parse (~350 ms
 * here, bench/open-loop.sh with REGISTRY_TOUCH). CSV files are read row by row this way; a YAML
 * file is parsed whole first (its rows only are spread), which is why CSV is the format for
 * large lists.
 */
async function convertInTurns<T>(rows: Iterable<Row>, path: string, fn: (r: Record<string, unknown>) => T): Promise<T[]> {
  const out: T[] = [];
  const slicer = new WorkSlicer();
  for (const r of rows) {
    out.push(convertOne(r, path, fn));
    if (slicer.due()) await slicer.nextTurn();
  }
  return out;
}

/** Parses a users file; throws RegistryFileError naming the first bad line or entry. */
export function parseUsersFile(text: string, format: FileFormat, path: string): UserRecord[] {
  return convert(rowsOf(text, format, path, USER_COLUMNS, 'passkey'), path, userFromRow);
}

export function parseTorrentsFile(text: string, format: FileFormat, path: string): TorrentRecord[] {
  return convert(rowsOf(text, format, path, TORRENT_COLUMNS, 'info_hash'), path, torrentFromRow);
}

/**
 * parseUsersFile spread over event-loop turns (for a tracker that serves meanwhile). With a memo,
 * a CSV file's lines seen in the last parse are not parsed again (CsvLineMemo).
 */
export function parseUsersFileInTurns(text: string | Buffer, format: FileFormat, path: string, memo?: CsvLineMemo<UserRecord>): Promise<UserRecord[]> {
  if (format === 'csv' && memo !== undefined) return csvRecordsInTurns(text, path, USER_COLUMNS, 'passkey', userFromRow, memo);
  return convertInTurns(rowsOf(String(text), format, path, USER_COLUMNS, 'passkey'), path, userFromRow);
}

export function parseTorrentsFileInTurns(text: string | Buffer, format: FileFormat, path: string, memo?: CsvLineMemo<TorrentRecord>): Promise<TorrentRecord[]> {
  if (format === 'csv' && memo !== undefined) return csvRecordsInTurns(text, path, TORRENT_COLUMNS, 'info_hash', torrentFromRow, memo);
  return convertInTurns(rowsOf(String(text), format, path, TORRENT_COLUMNS, 'info_hash'), path, torrentFromRow);
}

const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));

function write(records: Array<Record<string, unknown>>, columns: readonly string[], format: FileFormat): string {
  if (format === 'csv') {
    return [columns.join(','), ...records.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
  }
  // One flow mapping per line: valid YAML, diff-friendly, and written without a YAML library.
  if (records.length === 0) return '[]\n';
  // Hex identifiers are quoted for other YAML readers, to which 32 digits would be a number.
  const yamlCell = (c: string, v: unknown) => (c === columns[0] ? `"${cell(v)}"` : cell(v));
  return records.map((r) => `- {${columns.filter((c) => r[c] !== null && r[c] !== undefined).map((c) => `${c}: ${yamlCell(c, r[c])}`).join(', ')}}`).join('\n') + '\n';
}

export function formatUsersFile(users: readonly UserRecord[], format: FileFormat): string {
  return write(users.map(userToJson), USER_COLUMNS, format);
}

export function formatTorrentsFile(torrents: readonly TorrentRecord[], format: FileFormat): string {
  return write(torrents.map(torrentToJson), TORRENT_COLUMNS, format);
}
