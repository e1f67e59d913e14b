/**
 * What the UNIT3D writer needs about a batch's records that the records do not carry, gathered on
 * the announce thread when the batch is handed over, for the writer's thread (writer-thread.ts):
 * each peer's User-Agent and visibility (PeerExtras, filled by the rules hook) and whether each
 * user's history rows are immune (the site state). Both live on the announce thread and change
 * with its announces and push-API calls, so they are read there, once per record: one map lookup
 * each, the only per-delta work the writer leaves on that thread.
 *
 * Per record one u32 of flags; the distinct agents of the batch go once in a list beside them.
 */
import { RECORD, RECORD_SIZE } from '../../accounting/delta-record.js';
import type { PeerExtras } from '../peer-extras.js';
import type { Unit3dFacts } from './facts.js';

/** The record's user's history rows are immune. */
export const SIDE_IMMUNE = 1;
/** The rules hook saw this peer: the agent index and SIDE_VISIBLE hold (else: agent from the peer_id, visible). */
export const SIDE_EXTRA = 2;
export const SIDE_VISIBLE = 4;
const AGENT_SHIFT = 3;

/** One u32 per record (flags above, agent index in the bits from AGENT_SHIFT) and the agents they index. */
export interface RecordSide {
  readonly flags: Uint32Array;
  readonly agents: readonly string[];
}

export const sideAgentIndex = (bits: number): number => bits >>> AGENT_SHIFT;

/** The side bytes a batch of `recordBytes` needs (one u32 per record). */
export const sideBytes = (recordBytes: number): number => (recordBytes / RECORD_SIZE) * 4;

/** The site user ID of the record at `off` if its key is a site key of an `int unsigned` ID, else -1 (user-key.ts layout). */
export function siteUserAt(records: Buffer, off: number): number {
  const k = off + RECORD.user;
  if (records[k] !== 0x01) return -1;
  for (let i = 1; i <= 4; i++) if (records[k + i] !== 0) return -1;
  for (let i = 9; i < 16; i++) if (records[k + i] !== 0) return -1;
  return records.readUInt32BE(k + 5);
}

/**
 * Fills `flags` (one per record of `records`) and returns the agents they index. The extras key is
 * the record's user key, info_hash and peer_id, which lie back to back in a record (delta-record.ts),
 * read as one latin1 string: no copy of the ids.
 */
export function describeRecords(records: Buffer, flags: Uint32Array, extras: PeerExtras, facts: Unit3dFacts): string[] {
  const agents: string[] = [];
  const agentIndex = new Map<string, number>();
  const immune = new Map<number, boolean>();
  for (let i = 0, off = 0; off + RECORD_SIZE <= records.length; i++, off += RECORD_SIZE) {
    let bits = 0;
    const userId = siteUserAt(records, off);
    if (userId >= 0) {
      let im = immune.get(userId);
      if (im === undefined) immune.set(userId, (im = facts.immune(userId)));
      if (im) bits |= SIDE_IMMUNE;
    }
    const extra = extras.getByKey(records.toString('latin1', off + RECORD.user, off + RECORD.peerId + 20));
    if (extra !== undefined) {
      let idx = agentIndex.get(extra.agent);
      if (idx === undefined) {
        idx = agents.length;
        agents.push(extra.agent);
        agentIndex.set(extra.agent, idx);
      }
      bits |= SIDE_EXTRA | (extra.visible ? SIDE_VISIBLE : 0) | (idx << AGENT_SHIFT);
    }
    flags[i] = bits;
  }
  return agents;
}
