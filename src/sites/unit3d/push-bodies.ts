/**
 * The JSON bodies UNIT3D sends to the push API (UNIT3D `app/Services/Unit3dAnnounce.php`;
 * ../shared/sites/README.md A.5), validated before anything changes. PHP may encode a boolean
 * as 0/1 and an id as a numeric string; both are accepted. Unknown fields are ignored (a newer
 * UNIT3D may send more), a missing or mistyped one is a 400 naming it.
 */
import { z } from 'zod';

const id = z.union([z.number().int(), z.string().regex(/^\d{1,10}$/).transform(Number)])
  .pipe(z.number().int().min(0).max(0xffffffff));
const count = z.union([z.number().int(), z.string().regex(/^-?\d{1,10}$/).transform(Number)]).pipe(z.number().int());
const flag = z.union([z.boolean(), z.literal(0), z.literal(1), z.literal('0'), z.literal('1')])
  .transform((v) => v === true || v === 1 || v === '1');
const infoHash = z.string().regex(/^[0-9a-fA-F]{40}$/, 'must be 40 hexadecimal digits').transform((h) => Buffer.from(h, 'hex'));
const passkey = z.string().min(1).max(255);
const percent = (max: number) => count.pipe(z.number().int().min(0).max(max));

export const torrentPut = z.object({
  id,
  status: count,
  info_hash: infoHash,
  is_deleted: flag,
  seeders: count.default(0),
  leechers: count.default(0),
  times_completed: count.default(0),
  download_factor: percent(100),
  upload_factor: percent(10_000),
});

export const torrentDelete = z.object({ id, info_hash: infoHash.optional() });

export const userPut = z.object({
  id,
  group_id: id,
  passkey,
  /** A passkey reset: the old passkey stops working, the new one names the same user (and totals). */
  new_passkey: passkey.nullish(),
  can_download: flag,
  is_donor: flag.default(false),
  is_lifetime: flag.default(false),
  num_seeding: count.default(0),
  num_leeching: count.default(0),
});

export const userDelete = z.object({ id, passkey: passkey.optional() });

export const groupPut = z.object({
  id,
  slug: z.string().min(1).max(255),
  download_slots: count.nullable(),
  is_immune: flag,
  is_freeleech: flag,
  is_double_upload: flag,
});

export const groupDelete = z.object({ id });
export const blacklistedAgent = z.object({ peer_id_prefix: z.string().min(1).max(255) });
export const freeleechToken = z.object({ user_id: id, torrent_id: id });
export const personalFreeleech = z.object({ user_id: id });
export const featuredTorrent = z.object({ torrent_id: id });

/** The body parsed by `schema`, or the reason it is refused (the first problem, with its field). */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: Buffer): { ok: true; value: z.output<S> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, error: 'body is not JSON' };
  }
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.');
  return { ok: false, error: field === '' ? issue.message : `${field}: ${issue.message}` };
}
