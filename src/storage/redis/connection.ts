/**
 * The Redis connection of the shared store: one ioredis client (a node) or Cluster, configured to
 * fail fast rather than queue (an announce waiting on a dead Redis would hold its client for
 * nothing: it is refused with TRACKER_BUSY and retried by the client), the function library
 * loaded, and the keyspace's group count checked against `P{meta}`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import type { RedisStorageConfig } from '../../config/schema.js';
import { KeySpace, LIBRARY_NAME, LIBRARY_VERSION } from './keys.js';

export type RedisClient = Redis | Cluster;

/**
 * Where the library is read from. The .lua file lives in the source tree (src/storage/redis/lua);
 * compiled code runs from dist/src/storage/redis, so both places are tried: next to this module
 * (running from src/) and in the package's src/ tree seen from dist/ (package.json ships it).
 */
function libraryPath(): string {
  const candidates = [
    new URL('./lua/privtrak.lua', import.meta.url),
    new URL('../../../../src/storage/redis/lua/privtrak.lua', import.meta.url),
  ].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`the Redis function library is missing (looked for ${candidates.join(', ')})`);
  return found;
}

let librarySource: string | undefined;

/** The library's Lua source (read once); its first line names the library with this code's version. */
export function loadLibrarySource(): string {
  if (librarySource !== undefined) return librarySource;
  const text = readFileSync(libraryPath(), 'utf8');
  const header = `#!lua name=${LIBRARY_NAME}`;
  if (!text.startsWith(header)) throw new Error(`the Redis function library does not start with "${header}"`);
  librarySource = text;
  return text;
}

/** Builds the client, unconnected (lazyConnect): `prepareRedis` connects it. */
export function createRedisClient(cfg: RedisStorageConfig): RedisClient {
  const common = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: cfg.command_timeout,
    connectTimeout: Math.max(cfg.command_timeout, 1000),
    lazyConnect: true,
  };
  if (cfg.cluster_nodes.length > 0) {
    const nodes = cfg.cluster_nodes.map((hp) => {
      const at = hp.lastIndexOf(':');
      return { host: hp.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(hp.slice(at + 1)) };
    });
    const { enableOfflineQueue, lazyConnect, ...redisOptions } = common;
    return new Cluster(nodes, { enableOfflineQueue, lazyConnect, redisOptions });
  }
  // Reconnect forever with a capped backoff: service resumes by itself once Redis is back.
  return new Redis(cfg.url!, { ...common, retryStrategy: (times) => Math.min(50 * times, 1000) });
}

/** Thrown when the keyspace was made with another group count: moving info_hashes between groups would lose swarms and baselines. */
export class GroupsMismatchError extends Error {
  constructor(readonly recorded: number, readonly configured: number, prefix: string) {
    super(`storage.config.groups is ${configured} but the Redis keyspace "${prefix}" was created with ${recorded} groups: `
      + `set storage.config.groups: ${recorded} (the group count cannot change for an existing keyspace)`);
    this.name = 'GroupsMismatchError';
  }
}

/**
 * Connects, loads the library (FUNCTION LOAD REPLACE, on every master of a Cluster: functions
 * are per node) and records or checks `groups` in `P{meta}`.
 */
export async function prepareRedis(client: RedisClient, keys: KeySpace): Promise<void> {
  if (client.status === 'wait') await client.connect();
  const source = loadLibrarySource();
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  await Promise.all(nodes.map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', source)));
  await client.hsetnx(keys.meta, 'groups', String(keys.groups));
  const recorded = Number(await client.hget(keys.meta, 'groups'));
  if (recorded !== keys.groups) throw new GroupsMismatchError(recorded, keys.groups, keys.prefix);
  await client.hset(keys.meta, 'version', String(LIBRARY_VERSION));
}

/**
 * Redis settings under which the shared store cannot keep its counts exact, as warnings to log at
 * start: an eviction policy other than `noeviction` may drop a baseline (its peer's next announce
 * is then an unknown peer's) or an undrained stream entry (its bytes are lost). Not a refusal:
 * managed Redis services may not let the tracker read the setting, and an operator may knowingly
 * run a Redis with room to spare. Every master of a Cluster is asked.
 */
export async function redisSettingWarnings(client: RedisClient): Promise<string[]> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  const warnings: string[] = [];
  for (const node of nodes) {
    const where = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
    let policy: string | undefined;
    try {
      const reply = await node.call('CONFIG', 'GET', 'maxmemory-policy') as string[];
      policy = reply[1];
    } catch {
      warnings.push(`${where}: cannot read maxmemory-policy (CONFIG GET refused): make sure it is noeviction`);
      continue;
    }
    if (policy !== undefined && policy !== 'noeviction') {
      warnings.push(`${where}: maxmemory-policy is ${policy}: an evicted baseline or stream entry breaks exact counts; set it to noeviction`);
    }
  }
  return warnings;
}
