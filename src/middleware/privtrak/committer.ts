/**
 * Puts announces into the journal before their replies go out, with nothing half-counted if a
 * write fails. Two ways, chosen per announce:
 *
 * - **Commit groups**: the announces of one event-loop turn are written together (one copy or
 *   write at the end of the turn: setImmediate, or the end of a batch of datagrams, turn-end.ts)
 *   and their replies are held until it returns: the
 *   hook returns the group's promise. Baselines move at once; if the write fails, every change
 *   the group made is undone (in reverse) and its announces are refused with a retryable
 *   "tracker busy": nothing was counted, so their retries count in full.
 * - **Inline**: the announce is written and answered at once; on failure nothing of it was
 *   applied. A group costs a deferred reply (a promise through the hook chain) per announce and a
 *   setImmediate per turn, which pays off when a turn holds many announces (UDP, keep-alive under
 *   load) and is pure overhead when it holds one (HTTP with connection close: each connection's
 *   request arrives in its own turn). While turns average fewer than 2 announces, announces are
 *   answered inline, and every 33rd starts a probe that counts the announces of its turn without
 *   holding any reply back.
 */
import type { Logger } from 'pino';
import type { Baseline, StatDelta } from '../../accounting/delta.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { BaselineStore } from './baselines.js';
import type { Journal } from './journal.js';
import type { PrivtrakMetrics } from './metrics.js';
import { atTurnEnd } from '../../turn-end.js';

/** What the owner does with committed records (the privtrak hook: hand them to the flusher, count them for checkpoints). */
export interface CommitListener {
  /** `records` (a view, valid until the next journal append) hold `count` committed announces. */
  committed(records: Buffer, count: number): void;
  /** A group was undone: state a checkpoint is writing may hold undone baselines. */
  undone(): void;
}

/** The announces of one event-loop turn: written to the journal together, undone together. */
interface CommitGroup {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly firstSeq: number;
  /** Each announce's peer and what its baseline held before, in order, to undo a failed write. */
  readonly undo: UndoEntry[];
}

interface UndoEntry {
  readonly user: Buffer;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly prev: Baseline | undefined;
}

const busy = () => new ClientError('TRACKER_BUSY', 'tracker busy, retry later');

export class Committer {
  /** The seq of the last announce committed or in the open group. */
  seq = 0;
  /** Epoch ms of the last journal write that failed (0: none): /ready says not ready for a while after one. */
  lastJournalFailureMs = 0;
  private group: CommitGroup | undefined;
  private readonly commitNow = () => this.commit();
  /** Average announces per turn, and how many announces to commit inline before measuring again. */
  private avgGroup = 2;
  private inlineLeft = 0;
  /** Announces seen in the turn being measured while answering inline (-1: not measuring). */
  private probeSeen = -1;
  private readonly endProbe = () => {
    const seen = this.probeSeen;
    this.probeSeen = -1;
    this.observeTurn(seen);
  };

  constructor(
    private readonly journal: Journal,
    private readonly baselines: BaselineStore,
    private readonly listener: CommitListener,
    private readonly metrics: PrivtrakMetrics,
    private readonly logger: Logger,
  ) {}

  /** Announces waiting in the open group (they count against max_pending like pending deltas). */
  get grouped(): number {
    return this.group?.undo.length ?? 0;
  }

  /**
   * Journals `delta` (seq = this.seq + 1) for the peer at baseline `slot` (-1: none), which held
   * `prev`. Inline: returns undefined once written, or throws a retryable refusal. Grouped: returns
   * the promise of the turn's group (rejects with the refusal if the group's write fails).
   */
  record(delta: StatDelta, slot: number, prev: Baseline | undefined): Promise<void> | undefined {
    this.journal.append(delta);
    if (this.answerInline()) {
      this.commitOne(delta, slot);
      return undefined;
    }
    const group = this.group ?? this.openGroup();
    this.seq = delta.seq;
    group.undo.push({ user: delta.user, infoHash: delta.infoHash, peerId: delta.peerId, prev: prev === undefined ? undefined : { ...prev } });
    this.baselines.update(delta.user, delta.infoHash, delta.peerId, slot, delta.baseline);
    return group.promise;
  }

  /** Writes one announce's record now; on failure nothing of it remains and it is refused. */
  private commitOne(delta: StatDelta, slot: number): void {
    let records: Buffer;
    try {
      records = this.journal.commit(delta.seq);
    } catch (err) {
      this.journal.discard();
      this.lastJournalFailureMs = Date.now();
      this.metrics.refused.labels('journal').inc();
      this.logger.error({ err }, 'journal write failed: announce refused, nothing counted');
      throw busy();
    }
    this.seq = delta.seq;
    this.baselines.update(delta.user, delta.infoHash, delta.peerId, slot, delta.baseline);
    this.listener.committed(records, 1);
  }

  private answerInline(): boolean {
    if (this.group !== undefined) return false;
    if (this.probeSeen >= 0) {
      this.probeSeen++;
      return true;
    }
    if (this.inlineLeft > 0) {
      this.inlineLeft--;
      return true;
    }
    if (this.avgGroup >= 2) return false;
    this.probeSeen = 1;
    setImmediate(this.endProbe);
    return true;
  }

  /** Folds one turn's announce count (a commit group's or a probe's) into the average. */
  private observeTurn(size: number): void {
    this.avgGroup += (size - this.avgGroup) * 0.25;
    this.inlineLeft = this.avgGroup < 2 ? 32 : 0;
  }

  private openGroup(): CommitGroup {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Every announce of the group handles the rejection; this keeps an empty group from being "unhandled".
    promise.catch(() => undefined);
    const group: CommitGroup = { promise, resolve, reject, firstSeq: this.seq + 1, undo: [] };
    this.group = group;
    atTurnEnd(this.commitNow);
    return group;
  }

  /** Writes the open commit group to the journal and releases its replies; on failure undoes it. Idempotent. */
  commit(): void {
    const group = this.group;
    if (group === undefined) return;
    this.group = undefined;
    let records: Buffer;
    try {
      records = this.journal.commit(group.firstSeq);
    } catch (err) {
      this.journal.discard();
      for (let i = group.undo.length - 1; i >= 0; i--) {
        const u = group.undo[i]!;
        this.baselines.put(u.user, u.infoHash, u.peerId, u.prev ?? null);
      }
      this.seq = group.firstSeq - 1;
      this.lastJournalFailureMs = Date.now();
      this.listener.undone();
      this.metrics.refused.labels('journal').inc(group.undo.length);
      this.logger.error({ err, announces: group.undo.length }, 'journal write failed: announces refused, nothing counted');
      group.reject(busy());
      return;
    }
    this.listener.committed(records, group.undo.length);
    this.observeTurn(group.undo.length);
    group.resolve();
  }
}
