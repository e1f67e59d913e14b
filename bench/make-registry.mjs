// Writes an access registry for the benchmark of the full private chain: USERS users and
// TORRENTS torrents as CSV (the fast format), plus a config snippet that loads them.
// The torrents are the benchmark's info_hash pool (same formula as hashes.mjs, i = 1..TORRENTS,
// so every IH_POOL <= TORRENTS is registered); the first user is the benchmark's passkey
// (PASSKEY_MW in run.sh), the others are distinct made-up passkeys; every 50th user has no
// download privileges and every 100th is disabled, every 10th torrent is freeleech.
// usage: node make-registry.mjs [OUT_DIR] [USERS] [TORRENTS]     (defaults: results/registry 100000 100000)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? join(import.meta.dirname ?? '.', 'results', 'registry'));
const users = Number(process.argv[3] ?? 100_000);
const torrents = Number(process.argv[4] ?? 100_000);
if (!(users >= 1 && torrents >= 1)) throw new Error('usage: node make-registry.mjs [OUT_DIR] [USERS] [TORRENTS]');
const BENCH_PASSKEY = '0123456789abcdef0123456789abcdef';

mkdirSync(out, { recursive: true });
const u = ['passkey,site_id,enabled,can_leech', `${BENCH_PASSKEY},1,true,true`];
for (let i = 2; i <= users; i++) {
  // Distinct and not the bench passkey: 'a' + 31 hex digits of i.
  const passkey = `a${i.toString(16).padStart(31, '0')}`;
  u.push(`${passkey},${i},${i % 100 !== 0},${i % 50 !== 0}`);
}
const t = ['info_hash,site_id,banned,download_multiplier,upload_multiplier'];
for (let i = 1; i <= torrents; i++) {
  const s = i.toString(16).padStart(8, '0');
  const ih = '0'.repeat(40 - s.length - 8) + 'beefbeef' + s;
  t.push(`${ih},${i},false,${i % 10 === 0 ? 0 : ''},`);
}
writeFileSync(join(out, 'users.csv'), u.join('\n') + '\n');
writeFileSync(join(out, 'torrents.csv'), t.join('\n') + '\n');
writeFileSync(join(out, 'registry.yaml'), [
  '# Merge into the benchmark config: the full private chain over this registry.',
  'registry:',
  '  source: file',
  `  users: ${join(out, 'users.csv')}`,
  `  torrents: ${join(out, 'torrents.csv')}`,
  'prehooks:',
  '  - name: client_approval',
  '    options: {deny: [-TR2]}',
  '  - name: user_approval',
  '  - name: torrent_approval',
  '  - name: freeleech',
  '  - name: privtrak',
  '',
].join('\n'));
console.log(`wrote ${users} users and ${torrents} torrents to ${out} (users.csv, torrents.csv, registry.yaml)`);
