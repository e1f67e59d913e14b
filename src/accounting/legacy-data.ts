/**
 * Data written before user keys (accounting/user-key.ts), when a user's key was the passkey's own
 * 16 bytes: journal records of version 2, checkpoints of version 1 or 2, sinks at schema 1. Read as
 * they are, they would split every user's totals in two, so nothing reads them: the start is
 * refused with what to run, and `privtrak migrate` rekeys them (each store once, crash-safe).
 */

export const MIGRATE_ADVICE = 'with the tracker stopped, run `privtrak migrate --config FILE` (same config) to rekey it: '
  + 'with a registry each passkey becomes its site user ID (add `--history FILE`, CSV passkey,site_id, for old passkeys no longer in the registry), '
  + 'without one a keyed hash of the passkey; then start again';

/** Legacy data found where the tracker (or a command) would read it. */
export class LegacyDataError extends Error {
  readonly code = 'LEGACY_DATA';
  constructor(readonly where: string) {
    super(`${where} holds accounting data keyed by passkeys (written before user keys); ${MIGRATE_ADVICE}`);
  }
}

/** A rekey step: the new key of a legacy key (the passkey's 16 bytes), or undefined if it maps to no user. */
export type Rekey = (legacyKey: Buffer) => Buffer | undefined;

/** Thrown by a rekey that met legacy keys mapping to nothing; nothing was changed. Lists them all. */
export class UnmappedUserKeysError extends Error {
  readonly code = 'UNMAPPED_USER_KEYS';
  constructor(readonly where: string, readonly keys: readonly Buffer[], detail = '') {
    super(`${where}: ${keys.length} legacy user key(s) map to no user${detail}`);
  }
}

/** Distinct keys by content (Buffers are compared by reference in a Set). */
export function distinctKeys(keys: Iterable<Buffer>): Buffer[] {
  const seen = new Map<string, Buffer>();
  for (const k of keys) seen.set(k.toString('latin1'), k);
  return [...seen.values()];
}

/**
 * Applies `rekey` to every distinct key; throws UnmappedUserKeysError listing those it maps to
 * nothing (before anything is changed). Returns old key (latin1) → new key.
 */
export function mapAll(where: string, keys: Iterable<Buffer>, rekey: Rekey): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  const unmapped: Buffer[] = [];
  for (const k of distinctKeys(keys)) {
    const next = rekey(k);
    if (next === undefined) unmapped.push(k);
    else map.set(k.toString('latin1'), next);
  }
  if (unmapped.length > 0) throw new UnmappedUserKeysError(where, unmapped);
  return map;
}
