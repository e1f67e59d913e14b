/**
 * Folds a batch into the rows a sink writes: one per (user, info_hash) and one per user, each in
 * the byte order of its key (user, then info_hash), so that a sink's upserts walk each B-tree
 * once from left to right (bench/sink-bench.mjs: 5-8% more deltas/s once a table holds millions
 * of rows). A user with 40 deltas in a batch becomes one row update.
 * Deltas at or below `appliedThrough` are skipped (already applied by an earlier attempt).
 *
 * Why typed arrays and not a Map of row objects: this fold runs on the sink's writer, which shares
 * the tracker's core. With a Map keyed by a 36-character latin1 string per delta, an object per
 * row and a sort of all rows by string it cost 1.8-2.1 µs per delta (batches of 10,000 over
 * 100,000 (user, torrent) pairs), most of it in allocation, hashing new strings, the collector
 * and the sort's comparisons. Here a delta is looked up by its key bytes in place (ByteKeyIndex
 * over the records' own words) and added into its row's sums; objects are made once per row, at
 * the end, in key order: 0.6-0.8 µs per delta (BENCHMARKS.md).
 */
import type { DeltaBatch, StatDelta } from '../accounting/delta.js';
import { RECORD, RECORD_SIZE, get32, get64 } from '../accounting/delta-record.js';
import { ByteKeyIndex, grown } from '../byte-key-index.js';

export interface TorrentRow {
  readonly user: Buffer;
  readonly infoHash: Buffer;
  /** Credited bytes (what ratios count). */
  readonly uploaded: number;
  readonly downloaded: number;
  /** Raw bytes, as the clients reported them. */
  readonly rawUploaded: number;
  readonly rawDownloaded: number;
  /** The site's torrent ID, from the batch's last delta that had one (null: none did). */
  readonly siteTorrentId: number | null;
  readonly seedTime: number;
  readonly leechTime: number;
  /** 1 if any delta was a `completed`: a snatch is counted once per (user, info_hash). */
  readonly snatched: number;
  readonly firstMs: number;
  readonly lastMs: number;
}

export interface UserRow {
  readonly user: Buffer;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly rawUploaded: number;
  readonly rawDownloaded: number;
  readonly seedTime: number;
  readonly leechTime: number;
  readonly firstMs: number;
  readonly lastMs: number;
}

export interface Aggregate {
  /** One row per (user, info_hash), in byte order of user then info_hash. */
  readonly torrents: readonly TorrentRow[];
  /** One row per user, in byte order of the user. */
  readonly users: readonly UserRow[];
  /** How many deltas are applied (seq above appliedThrough); 0: nothing to do. */
  readonly count: number;
  /** Seq of the first applied delta. */
  readonly firstSeq: number;
  /** Highest seq in the batch. */
  readonly through: number;
  /** The applied deltas themselves, for raw logs (decoded on demand). */
  applied(): StatDelta[];
}

const USER_BYTES = 16;
const HASH_BYTES = 20;

// A row's sums, side by side in one Float64Array (row-major: adding a delta touches one or two
// cache lines, where a column per field took a miss per field for a row met at random).
const UP = 0;
const DOWN = 1;
const RAW_UP = 2;
const RAW_DOWN = 3;
const SEED = 4;
const LEECH = 5;
const FIRST_MS = 6;
const LAST_MS = 7;
const FIELDS = 8;

/** The sums of one kind of row, indexed by the row's slot in its key index. */
class Sums {
  /** Row r's field f at [r * FIELDS + f]. */
  v: Float64Array;
  /** Byte offset of the row's key in the fold's key bytes (its first delta's). */
  at: Int32Array;

  constructor(rows: number) {
    this.v = new Float64Array(rows * FIELDS);
    this.at = new Int32Array(rows);
  }

  /** Rows there is room for. */
  get rows(): number {
    return this.at.length;
  }

  open(row: number, at: number, timeMs: number): void {
    this.at[row] = at;
    this.v[row * FIELDS + FIRST_MS] = timeMs;
    this.v[row * FIELDS + LAST_MS] = timeMs;
  }

  /** Adds one delta's numbers to `row`. */
  add(row: number, up: number, down: number, rawUp: number, rawDown: number, seed: number, leech: number, timeMs: number): void {
    const v = this.v;
    const b = row * FIELDS;
    v[b + UP] += up;
    v[b + DOWN] += down;
    v[b + RAW_UP] += rawUp;
    v[b + RAW_DOWN] += rawDown;
    v[b + SEED] += seed;
    v[b + LEECH] += leech;
    if (timeMs < v[b + FIRST_MS]!) v[b + FIRST_MS] = timeMs;
    if (timeMs > v[b + LAST_MS]!) v[b + LAST_MS] = timeMs;
  }

  /** Makes room for `rows` rows, the sums kept (new rows zero). */
  grow(rows: number): void {
    this.v = grown(this.v, rows * FIELDS);
    this.at = grown(this.at, rows);
  }
}

/** Bytes [off, off + 6) as a number: a prefix that orders most keys without a byte loop. */
function prefix48(buf: Buffer, off: number): number {
  return (buf[off]! * 0x100 + buf[off + 1]!) * 0x1_0000_0000 + get32(buf, off + 2);
}

/** Byte order of buf[a, a + n) against buf[b, b + n). */
function compareBytes(buf: Buffer, a: number, b: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = buf[a + i]! - buf[b + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Copies `n` bytes; for 16 or 20, a loop beats Buffer#copy's native call (8% of the fold). */
function copyBytes(from: Buffer, at: number, to: Buffer, offset: number, n: number): void {
  for (let i = 0; i < n; i++) to[offset + i] = from[at + i]!;
}

/** 0, 1, … n - 1 sorted by `compare`. */
function order(n: number, compare: (a: number, b: number) => number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out.sort(compare);
}

/**
 * 0, 1, … n - 1 ordered by group (0 … groups - 1), then by `compare` within a group. A batch has a
 * few rows per user, so placing rows by their user's rank (a counting sort) and sorting each
 * user's few rows takes a third of the comparisons of one sort of them all.
 */
function groupedOrder(n: number, groups: number, groupOf: (i: number) => number, compare: (a: number, b: number) => number): Int32Array {
  const start = new Int32Array(groups + 1);
  for (let i = 0; i < n; i++) start[groupOf(i) + 1]++;
  for (let g = 0; g < groups; g++) start[g + 1] += start[g]!;
  const next = start.slice(0, groups);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[next[groupOf(i)]!++] = i;
  for (let g = 0; g < groups; g++) {
    const lo = start[g]!;
    const hi = start[g + 1]!;
    if (hi - lo <= 16) {
      // Insertion sort: for a handful of rows, cheaper than a sort call.
      for (let i = lo + 1; i < hi; i++) {
        const x = out[i]!;
        let j = i - 1;
        for (; j >= lo && compare(out[j]!, x) > 0; j--) out[j + 1] = out[j]!;
        out[j + 1] = x;
      }
    } else {
      out.set(Array.from(out.subarray(lo, hi)).sort(compare), lo);
    }
  }
  return out;
}

/**
 * Records whose byte offset lets an Int32Array view them (the key index reads key words in
 * place); a copy otherwise (a slice of a pooled Buffer can start anywhere).
 */
function aligned(records: Buffer): Buffer {
  if (records.byteOffset % 4 === 0) return records;
  const copy = Buffer.allocUnsafeSlow(records.length); // never pooled: starts at offset 0
  records.copy(copy);
  return copy;
}

/**
 * Folds up to `capacity` deltas whose keys (user 16 bytes, then info_hash 20) are in `keys`, at
 * 4-aligned offsets: a batch's records themselves, or the keys of delta objects copied out.
 */
class Folder {
  private readonly words: Int32Array;
  private readonly torrentIndex: ByteKeyIndex;
  private readonly userIndex: ByteKeyIndex;
  private readonly t: Sums;
  private readonly u: Sums;
  private readonly userOf: Int32Array;
  private readonly snatched: Uint8Array;
  private readonly hasSite: Uint8Array;
  private readonly siteTorrentId: Float64Array;
  count = 0;
  firstSeq = 0;
  through: number;

  constructor(private readonly keys: Buffer, capacity: number, private readonly appliedThrough: number) {
    this.words = new Int32Array(keys.buffer, keys.byteOffset, Math.floor(keys.length / 4));
    this.torrentIndex = new ByteKeyIndex(USER_BYTES + HASH_BYTES, capacity);
    this.userIndex = new ByteKeyIndex(USER_BYTES, Math.min(capacity, 1024));
    this.t = new Sums(capacity);
    this.u = new Sums(Math.min(capacity, 1024));
    this.userOf = new Int32Array(capacity);
    this.snatched = new Uint8Array(capacity);
    this.hasSite = new Uint8Array(capacity);
    this.siteTorrentId = new Float64Array(capacity);
    this.through = appliedThrough;
  }

  /** Whether a delta of this seq is applied; counts it. */
  take(seq: number): boolean {
    if (seq <= this.appliedThrough) return false;
    if (this.count++ === 0) this.firstSeq = seq;
    if (seq > this.through) this.through = seq;
    return true;
  }

  /** Adds a delta (one `take` accepted) whose key is at byte `at` of the keys. */
  add(at: number, timeMs: number, up: number, down: number, rawUp: number, rawDown: number, seed: number, leech: number,
    snatch: boolean, siteTorrentId: number | null): void {
    const keyWord = at / 4;
    let row = this.torrentIndex.find(this.words, keyWord);
    if (row < 0) {
      row = this.torrentIndex.insert(this.words, keyWord);
      this.t.open(row, at, timeMs);
      let user = this.userIndex.find(this.words, keyWord);
      if (user < 0) {
        user = this.userIndex.insert(this.words, keyWord);
        if (user === this.u.rows) this.u.grow(user * 2);
        this.u.open(user, at, timeMs);
      }
      this.userOf[row] = user;
    }
    this.t.add(row, up, down, rawUp, rawDown, seed, leech, timeMs);
    this.u.add(this.userOf[row]!, up, down, rawUp, rawDown, seed, leech, timeMs);
    if (snatch) this.snatched[row] = 1;
    if (siteTorrentId !== null) {
      this.hasSite[row] = 1;
      this.siteTorrentId[row] = siteTorrentId;
    }
  }

  /** The rows, in key order. */
  result(applied: () => StatDelta[]): Aggregate {
    const { keys, t, u, userOf } = this;
    const rows = this.torrentIndex.size;
    const users = this.userIndex.size;

    // Users in byte order; torrent rows by their user's rank, then info_hash bytes.
    const userAt = (i: number) => u.at[i]!;
    const userPrefix = new Float64Array(users);
    for (let i = 0; i < users; i++) userPrefix[i] = prefix48(keys, userAt(i));
    const userOrder = order(users, (a, b) => userPrefix[a]! - userPrefix[b]! || compareBytes(keys, userAt(a) + 6, userAt(b) + 6, USER_BYTES - 6));
    const userRank = new Int32Array(users);
    for (let r = 0; r < users; r++) userRank[userOrder[r]!] = r;
    const hashAt = (i: number) => t.at[i]! + USER_BYTES;
    const hashPrefix = new Float64Array(rows);
    for (let i = 0; i < rows; i++) hashPrefix[i] = prefix48(keys, hashAt(i));
    const torrentOrder = groupedOrder(rows, users, (i) => userRank[userOf[i]!]!,
      (a, b) => hashPrefix[a]! - hashPrefix[b]! || compareBytes(keys, hashAt(a) + 6, hashAt(b) + 6, HASH_BYTES - 6));

    // The rows' ids are copied out of the keys into one buffer: a sink may keep rows after the
    // batch's records are reused.
    const ids = Buffer.allocUnsafeSlow(users * USER_BYTES + rows * HASH_BYTES);
    const userRows = new Array<UserRow>(users);
    const userIds = new Array<Buffer>(users);
    for (let r = 0; r < users; r++) {
      const i = userOrder[r]!;
      copyBytes(keys, userAt(i), ids, r * USER_BYTES, USER_BYTES);
      const id = ids.subarray(r * USER_BYTES, (r + 1) * USER_BYTES);
      userIds[i] = id;
      const v = u.v;
      const b = i * FIELDS;
      userRows[r] = {
        user: id, uploaded: v[b + UP]!, downloaded: v[b + DOWN]!, rawUploaded: v[b + RAW_UP]!, rawDownloaded: v[b + RAW_DOWN]!,
        seedTime: v[b + SEED]!, leechTime: v[b + LEECH]!, firstMs: v[b + FIRST_MS]!, lastMs: v[b + LAST_MS]!,
      };
    }
    const torrentRows = new Array<TorrentRow>(rows);
    const hashBase = users * USER_BYTES;
    for (let r = 0; r < rows; r++) {
      const i = torrentOrder[r]!;
      const at = hashBase + r * HASH_BYTES;
      copyBytes(keys, hashAt(i), ids, at, HASH_BYTES);
      const v = t.v;
      const b = i * FIELDS;
      torrentRows[r] = {
        user: userIds[userOf[i]!]!, infoHash: ids.subarray(at, at + HASH_BYTES),
        uploaded: v[b + UP]!, downloaded: v[b + DOWN]!, rawUploaded: v[b + RAW_UP]!, rawDownloaded: v[b + RAW_DOWN]!,
        siteTorrentId: this.hasSite[i] === 1 ? this.siteTorrentId[i]! : null, seedTime: v[b + SEED]!, leechTime: v[b + LEECH]!,
        snatched: this.snatched[i]!, firstMs: v[b + FIRST_MS]!, lastMs: v[b + LAST_MS]!,
      };
    }
    return { torrents: torrentRows, users: userRows, count: this.count, firstSeq: this.firstSeq, through: this.through, applied };
  }
}

/**
 * The rows of `deltas` (objects): their keys are copied into one buffer, their numbers read as
 * they are. A delta whose user or info_hash has the wrong length is not folded: it becomes rows
 * of its own (after the others), with its ids as they are, so the schema's CHECKs refuse them and
 * the batch fails whole (sql-schema.ts), instead of its bytes landing under some other key.
 */
export function aggregate(deltas: readonly StatDelta[], appliedThrough: number): Aggregate {
  const keyBytes = USER_BYTES + HASH_BYTES;
  const keys = Buffer.allocUnsafeSlow(deltas.length * keyBytes); // never pooled: starts at offset 0
  const f = new Folder(keys, deltas.length, appliedThrough);
  const malformed: StatDelta[] = [];
  for (let i = 0; i < deltas.length; i++) {
    const d = deltas[i]!;
    if (!f.take(d.seq)) continue;
    if (d.user.length !== USER_BYTES || d.infoHash.length !== HASH_BYTES) {
      malformed.push(d);
      continue;
    }
    const at = i * keyBytes;
    d.user.copy(keys, at, 0, USER_BYTES);
    d.infoHash.copy(keys, at + USER_BYTES, 0, HASH_BYTES);
    f.add(at, d.timeMs, d.creditUp, d.creditDown, d.deltaUp, d.deltaDown, d.seedTime, d.leechTime, d.snatch, d.siteTorrentId);
  }
  const agg = f.result(() => deltas.filter((d) => d.seq > appliedThrough));
  if (malformed.length === 0) return agg;
  const numbers = (d: StatDelta) => ({
    uploaded: d.creditUp, downloaded: d.creditDown, rawUploaded: d.deltaUp, rawDownloaded: d.deltaDown,
    seedTime: d.seedTime, leechTime: d.leechTime, firstMs: d.timeMs, lastMs: d.timeMs,
  });
  return {
    ...agg,
    torrents: [...agg.torrents, ...malformed.map((d) => ({
      user: d.user, infoHash: d.infoHash, siteTorrentId: d.siteTorrentId, snatched: d.snatch ? 1 : 0, ...numbers(d),
    }))],
    users: [...agg.users, ...malformed.map((d) => ({ user: d.user, ...numbers(d) }))],
  };
}

/**
 * The rows of a batch, from its journal records when it has them: read in place, no object per
 * delta (the flush path of a busy tracker).
 */
export function aggregateBatch(batch: DeltaBatch, appliedThrough: number): Aggregate {
  if (batch.records === undefined) return aggregate(batch.deltas, appliedThrough);
  const buf = aligned(batch.records);
  const end = Math.floor(buf.length / RECORD_SIZE) * RECORD_SIZE;
  const f = new Folder(buf, end / RECORD_SIZE, appliedThrough);
  for (let off = 0; off < end; off += RECORD_SIZE) {
    if (!f.take(get64(buf, off + RECORD.seq))) continue;
    const bits = buf[off + RECORD.bits]!;
    f.add(off + RECORD.user, get64(buf, off + RECORD.timeMs), get64(buf, off + RECORD.creditUp), get64(buf, off + RECORD.creditDown),
      get64(buf, off + RECORD.deltaUp), get64(buf, off + RECORD.deltaDown), get32(buf, off + RECORD.seedTime), get32(buf, off + RECORD.leechTime),
      (bits & RECORD.snatchBit) !== 0, (bits & RECORD.siteTorrentIdBit) !== 0 ? get64(buf, off + RECORD.siteTorrentId) : null);
  }
  return f.result(() => batch.deltas.filter((d) => d.seq > appliedThrough));
}
