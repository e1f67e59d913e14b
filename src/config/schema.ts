/**
 * The configuration schema: one place with every key, its default and what it means.
 * Unknown keys are refused (a typo must not silently fall back to a default).
 * Durations are written like "30m" and come out as milliseconds.
 */
import { z } from 'zod';
import { durationSchema as duration } from './zod-duration.js';
import { registrySchema } from '../access/config.js';
import { siteSchema } from '../sites/config.js';

/** "host:port", "[v6]:port" or ":port"; empty string disables the listener. */
const addr = (def: string) =>
  z.string().default(def).refine((v) => v === '' || /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/.test(v) && Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, {
    message: 'must be "host:port", "[ipv6]:port" or "" (disabled)',
  });

const route = z.string().regex(/^\/[^?#\s]*$/, 'a route is a path starting with "/", e.g. "/:passkey/announce"');

const hookEntry = z.object({
  name: z.string().min(1),
  options: z.record(z.unknown()).default({}),
}).strict();

const numwant = {
  default_numwant: z.number().int().min(0).max(1000).default(50).describe('peers returned when the client does not say'),
  max_numwant: z.number().int().min(0).max(1000).default(100).describe('cap on the numwant a client may ask for'),
  max_scrape_infohashes: z.number().int().min(1).max(1000).default(50).describe('info_hashes allowed in one scrape'),
  allow_ip_spoofing: z.boolean().default(false).describe('honour ip=/ipv6=/ipv4= (HTTP) or the IP field (UDP)'),
};

export const httpSchema = z.object({
  // Dual-stack: one socket for IPv6 and IPv4 clients; IPv4 only where the host has no IPv6.
  addr: addr('[::]:6969').describe('listen address; "" disables HTTP'),
  // A private tracker's routes: every announce carries the passkey (UDP: as BEP 41 URL data).
  announce_routes: z.array(route).min(1).default(['/:passkey/announce']),
  scrape_routes: z.array(route).default(['/:passkey/scrape']),
  real_ip_header: z.string().default('').describe('header carrying the client address behind a reverse proxy (e.g. x-forwarded-for); "" = use the socket address'),
  keep_alive: z.boolean().default(true).describe('serve several requests per connection (a client sending "Connection: close" still gets close)'),
  transport: z.enum(['auto', 'raw', 'net']).default('auto').describe('TCP layer: raw libuv handles (fast), node:net (portable), auto = raw when this Node has them'),
  read_timeout: duration('5s').describe('time allowed to receive a request'),
  idle_timeout: duration('30s').describe('keep-alive: idle time before closing'),
  max_request_size: z.number().int().min(256).max(65536).default(8192).describe('bytes allowed for request line and headers'),
  max_connections: z.number().int().min(1).default(10000).describe('open connections allowed at once'),
  max_connections_per_ip: z.number().int().min(0).default(0).describe('open connections allowed per client address (the socket\'s, not real_ip_header\'s); 0 = no limit'),
  max_buffered_bytes: z.number().int().min(1024).max(16 << 20).default(65536)
    .describe('per connection: unanswered request bytes, and reply bytes the client has not read, before the tracker stops reading from it'),
  health_checks: z.boolean().default(true).describe('answer GET /health (live) and GET /ready (ready to count) for load balancers'),
  ...numwant,
}).strict().superRefine((c, ctx) => {
  // The health paths are tried after the routes: a route that matches them would hide them.
  if (!c.health_checks) return;
  for (const key of ['announce_routes', 'scrape_routes'] as const) {
    c[key].forEach((r, i) => {
      const segments = r.split('/').slice(1);
      const single = segments.length === 1 ? segments[0]! : undefined;
      if (single !== undefined && (single.startsWith(':') || single === 'health' || single === 'ready')) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key, i], message: `"${r}" would answer /health and /ready: change the route or set http.health_checks: false` });
      }
    });
  }
});

export const udpSchema = z.object({
  addr: addr('[::]:6969').describe('listen address; "" disables UDP'),
  private_key: z.string().default('').describe('key for connection IDs; "" = random at start (IDs then do not survive a restart)'),
  max_clock_skew: duration('10s'),
  connection_id_lifetime: duration('2m'),
  socket_buffer_size: z.number().int().min(65536).max(1 << 30).default(4 << 20).describe('SO_RCVBUF/SO_SNDBUF bytes (capped by the kernel: net.core.rmem_max)'),
  transport: z.enum(['auto', 'batch', 'dgram']).default('auto')
    .describe('socket layer: batch = recvmmsg/sendmmsg through the native addon (Linux), dgram = node:dgram, auto = batch where the addon has it'),
  coalesce_us: z.number().int().min(0).max(10_000).default(200)
    .describe('batched socket only: µs to wait after a read that emptied the socket before the next, while datagrams keep coming (0 = never)'),
  ...numwant,
}).strict();

const storageCommon = {
  gc_interval: duration('3m').describe('how often silent peers are dropped'),
  peer_lifetime: duration('31m').describe('a peer silent for longer is dropped'),
  prometheus_reporting_interval: duration('1s'),
};

/** A redis-only key given with `name: memory`: refused (naming the key) rather than silently ignored. */
const redisOnly = z.undefined({ errorMap: () => ({ message: 'a redis option: it needs storage.name: redis' }) }).optional();

const memoryStorage = z.object({
  name: z.literal('memory'),
  config: z.object({
    ...storageCommon,
    url: redisOnly, cluster_nodes: redisOnly, key_prefix: redisOnly, groups: redisOnly, command_timeout: redisOnly, max_stream_entries: redisOnly,
  }).strict().default({}),
}).strict();

const redisStorage = z.object({
  name: z.literal('redis'),
  config: z.object({
    ...storageCommon,
    url: z.string().regex(/^rediss?:\/\//, 'a redis://host:port/db (or rediss://) URL').optional().describe('one Redis node'),
    cluster_nodes: z.array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'a "host:port" seed of the Redis Cluster')).default([])
      .describe('seeds of a Redis Cluster (then url must be unset)'),
    key_prefix: z.string().default('privtrak:').refine((v) => !/[{}]/.test(v), 'must not contain "{" or "}" (the keys\' hash tags)')
      .describe('prefix of every key: lets several trackers share one Redis'),
    groups: z.number().int().min(1).max(16384).default(16).describe('shard groups (hash tags); fixed for a keyspace, recorded in Redis and checked at start'),
    command_timeout: duration('2s').describe('a Redis command slower than this fails the announce with TRACKER_BUSY'),
    max_stream_entries: z.number().int().min(1).default(200_000).describe('the delta backlog bound over all groups; over it announces are refused (TRACKER_BUSY)'),
  }).strict().superRefine((c, ctx) => {
    if (c.url === undefined && c.cluster_nodes.length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['url'], message: 'required with storage.name: redis (or give cluster_nodes)' });
    }
    if (c.url !== undefined && c.cluster_nodes.length > 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['cluster_nodes'], message: 'give either url (one node) or cluster_nodes (a cluster), not both' });
    }
  }).default({}),
}).strict();

/** `name` defaults to memory; each name has its own strict config keys. */
export const storageSchema = z.preprocess(
  (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { name?: unknown }).name === undefined ? { ...v, name: 'memory' } : v),
  z.discriminatedUnion('name', [memoryStorage, redisStorage], {
    // Worded as for any other closed list of names (z.enum).
    errorMap: (issue, ctx) => (issue.code === 'invalid_union_discriminator'
      ? { message: `Invalid enum value. Expected ${issue.options.map((o) => `'${String(o)}'`).join(' | ')}, received '${String((ctx.data as { name?: unknown })?.name)}'` }
      : { message: ctx.defaultError }),
  }),
);

/** The validated options of the redis store. */
export type RedisStorageConfig = z.output<typeof redisStorage>['config'];

export const configSchema = z.object({
  announce_interval: duration('30m'),
  min_announce_interval: duration('15m'),
  metrics_addr: addr('127.0.0.1:6880').describe('Prometheus /metrics; "" disables'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  shutdown_timeout: duration('5s'),
  // The HMAC key of open-mode user keys (src/user-key-secret.ts): created on the first start of a privtrak hook.
  user_key_secret: z.string().min(1).default('./data/user-key.secret').describe('file of the installation\'s user-key secret (created on first start; back it up with the data)'),
  http: httpSchema.default({}),
  udp: udpSchema.default({}),
  storage: storageSchema.default({}),
  // The embedded default is the private chain: the privtrak hook with its SQLite sink.
  prehooks: z.array(hookEntry).default([{ name: 'privtrak', options: {} }]),
  posthooks: z.array(hookEntry).default([]),
  // Users and torrents for the access hooks (user_approval, torrent_approval, freeleech): one
  // registry per tracker, shared by those hooks. Absent: no hook may need it.
  registry: registrySchema.optional(),
  // The site privtrak stands in for (src/sites/): its database, rules, tables and control channel.
  site: siteSchema.optional(),
}).strict().superRefine((c, ctx) => {
  if (c.site !== undefined && !c.site.readonly && !c.prehooks.some((h) => h.name === 'privtrak')) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['prehooks'], message: `the site block (${c.site.name}) counts through the privtrak hook: keep {name: privtrak} in prehooks` });
  }
  if (c.site !== undefined && c.registry !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['registry'], message: `the site block (${c.site.name}) reads users and torrents from the site's database itself: remove registry` });
  }
  if (c.registry !== undefined && c.registry.admin_token !== '' && c.metrics_addr === '') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['registry', 'admin_token'], message: 'the admin API is served on metrics_addr, which is disabled ("")' });
  }
  if (c.min_announce_interval > c.announce_interval) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['min_announce_interval'], message: 'must not exceed announce_interval' });
  }
  for (const key of ['http', 'udp'] as const) {
    if (c[key].default_numwant > c[key].max_numwant) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key, 'default_numwant'], message: 'must not exceed max_numwant' });
    }
  }
});

export type Config = z.output<typeof configSchema>;
export type HttpConfig = Config['http'];
export type UdpConfig = Config['udp'];
