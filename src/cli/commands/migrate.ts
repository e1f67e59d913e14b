/**
 * `privtrak migrate [--history FILE] [--unmapped refuse|hash]`: creates or upgrades the sink's
 * schema and rekeys legacy data — accounting written before user keys, keyed by passkeys
 * (accounting/legacy-data.ts) — in the sink, the journal and the checkpoints, with the tracker stopped.
 *
 * Each legacy key (a passkey's 16 bytes) becomes the key the tracker now makes for that passkey:
 * - registry mode (a registry and `user_approval`): the site user's key, from the registry's
 *   site ID or, for passkeys a site has since replaced, from `--history` (CSV passkey,site_id);
 *   a registry user without a site ID gets the hashed key;
 * - open mode: the keyed hash of the passkey (the secret is created if there is none yet).
 * Old passkeys of one user merge into that user's totals. Every store is checked first: if a
 * legacy key maps to no user, it is reported and nothing is changed (unless `--unmapped hash`:
 * such keys are kept under the hashed key, as open mode would). Then the sink is rekeyed (one
 * transaction), then the journal directory (file by file, each replaced whole): after a crash,
 * running migrate again finishes the job.
 *
 * Progress of the rekeying goes to stderr (progress/outputs.ts): the share of the journal
 * rewritten, ending with `privtrak: migrate: N legacy journal records in T (R legacy journal records/s), 0 rejected`
 * (nothing is ever half-rekeyed: an unmapped key refuses the whole migration, so nothing is rejected).
 */
import { existsSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { distinctKeys, UnmappedUserKeysError, type Rekey } from '../../accounting/legacy-data.js';
import { siteUserKey, type UserKeys } from '../../accounting/user-key.js';
import { createSink } from '../../sinks/index.js';
import type { DeltaSink } from '../../sinks/sink.js';
import { lockDir } from '../../middleware/privtrak/dir-lock.js';
import { findLegacyJournalData, rekeyJournalDir } from '../../middleware/privtrak/journal-rekey.js';
import { journalBytes } from '../../middleware/privtrak/journal.js';
import { nodeFs } from '../../durable-fs.js';
import { cliProgress } from '../../progress/outputs.js';
import { privtrakOptionsFromConfig } from './sink-from-config.js';
import { loadRegistryUsers, readPasskeyHistory, registryMode, userKeysFromConfig } from './user-keys-from-config.js';
import { UsageError } from '../usage-error.js';

export interface MigrateArgs {
  /** CSV passkey,site_id of passkeys no longer in the registry. */
  readonly history?: string;
  /** What becomes of a legacy key that maps to no user: refuse (default) or key it by its hashed passkey. */
  readonly unmapped?: string;
}

/** Listed in a refusal at most. */
const SHOWN = 20;

/** Builds the rekey of this installation (see the file comment). */
async function rekeyFor(config: Config, args: MigrateArgs): Promise<Rekey> {
  let keys: UserKeys | undefined;
  // The secret is made only if some key needs it.
  const hashed = (passkey: string) => (keys ??= userKeysFromConfig(config, true)).forPasskey(passkey);
  if (!registryMode(config)) {
    if (args.history !== undefined) throw new UsageError('--history needs registry mode (a registry and the user_approval hook)');
    return (old) => hashed(old.toString('hex'));
  }
  const users = new Map((await loadRegistryUsers(config)).map((u) => [u.passkey, u]));
  const history = args.history === undefined ? new Map<string, number>() : readPasskeyHistory(args.history);
  const unmappedAsHash = args.unmapped === 'hash';
  return (old) => {
    const passkey = old.toString('hex');
    const user = users.get(passkey);
    if (user !== undefined) return user.siteId !== null ? siteUserKey(user.siteId) : hashed(passkey);
    const site = history.get(passkey);
    if (site !== undefined) return siteUserKey(site);
    return unmappedAsHash ? hashed(passkey) : undefined;
  };
}

/** The legacy keys a sink holds: a rekey that maps nothing makes it list them all, changing nothing (sink.ts). */
async function legacySinkKeys(sink: DeltaSink): Promise<readonly Buffer[]> {
  try {
    await sink.migrate(() => undefined);
    return [];
  } catch (err) {
    if (err instanceof UnmappedUserKeysError) return err.keys;
    throw err;
  }
}

export async function runMigrate(config: Config, args: MigrateArgs, out: (line: string) => void): Promise<void> {
  if (args.unmapped !== undefined && args.unmapped !== 'refuse' && args.unmapped !== 'hash') {
    throw new UsageError('--unmapped must be "refuse" or "hash"');
  }
  const opts = privtrakOptionsFromConfig(config);
  const sink = createSink(opts.sink);
  try {
    const local = findLegacyJournalData(opts.journal_dir);
    const legacy = distinctKeys([...local.keys, ...(await legacySinkKeys(sink))]);
    if (legacy.length === 0) {
      out(`privtrak: ${sink.name} schema is up to date`);
      return;
    }
    const rekey = await rekeyFor(config, args);
    const unmapped = legacy.filter((k) => rekey(k) === undefined);
    if (unmapped.length > 0) {
      const shown = unmapped.slice(0, SHOWN).map((k) => k.toString('hex')).join(', ');
      throw new UnmappedUserKeysError('privtrak migrate', unmapped,
        ` (not in the registry, nor in --history): ${shown}${unmapped.length > SHOWN ? `, … (${unmapped.length - SHOWN} more)` : ''}`
        + ' (these are passkeys: keep this output private). Give their site user IDs in --history FILE (CSV passkey,site_id),'
        + ' or pass --unmapped hash to keep them under a keyed hash of the passkey as open mode does. Nothing was changed.');
    }
    // The journal directory is rewritten: no tracker may be using it.
    const unlock = local.files.length > 0 && existsSync(opts.journal_dir) ? lockDir(opts.journal_dir) : () => undefined;
    // The sink's transaction calls nothing back: the heartbeat keeps the time moving meanwhile.
    const progress = cliProgress({ task: 'migrate', unit: 'bytes', total: journalBytes(opts.journal_dir), rowsName: 'legacy journal records' }).heartbeat();
    try {
      await sink.migrate(rekey);
      const files = rekeyJournalDir(opts.journal_dir, rekey, opts.journal_fsync, nodeFs, progress);
      progress.finish();
      const users = distinctKeys(legacy.map((k) => rekey(k)!)).length;
      out(`privtrak: rekeyed ${legacy.length} legacy user key(s) (passkeys) to ${users} user key(s): the ${sink.name} sink`
        + `${files.length > 0 ? ` and ${files.length} file(s) in ${opts.journal_dir}` : ''}; no passkey is kept`);
      out(`privtrak: ${sink.name} schema is up to date`);
    } finally {
      progress.abandon(); // when rekeying failed: the error says why
      unlock();
    }
  } finally {
    await sink.close().catch(() => undefined);
  }
}
