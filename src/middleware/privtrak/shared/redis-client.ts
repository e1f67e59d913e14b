/**
 * The Redis client type the shared mode's parts take: one ioredis node client or a Cluster
 * (src/storage/redis/connection.ts builds it from `storage.config`).
 */
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

/** A shared store that lends its client (RedisPeerStore.client): the drainer duplicates it for a connection of its own. */
export function storeClient(store: object): RedisClient | undefined {
  const client = (store as { client?: unknown }).client;
  return typeof (client as RedisClient | undefined)?.duplicate === 'function' ? client as RedisClient : undefined;
}
