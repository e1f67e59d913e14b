/** The access suite against the `file` registry: a users CSV and a torrents YAML file, polled. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAccessSuite, TORRENTS, USERS, type SuiteUser } from './access-suite.js';

runAccessSuite('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-file-registry-'));
  const usersPath = join(dir, 'users.csv');
  const torrentsPath = join(dir, 'torrents.yaml');
  const users: SuiteUser[] = Object.values(USERS).map((u) => ({ ...u }));
  let broken = false;
  const writeUsers = () => writeFileSync(usersPath, [
    'passkey,site_id,enabled,can_leech',
    ...users.map((u) => `${u.passkey},${u.siteId},${u.enabled},${u.canLeech}`),
  ].join('\n') + '\n');
  writeUsers();
  writeFileSync(torrentsPath, Object.values(TORRENTS).map((t) =>
    `- {info_hash: "${t.infoHash.toString('hex')}", site_id: ${t.siteId}, banned: ${t.banned}`
    + `${t.freeleech ? ', download_multiplier: 0' : ''}${t.doubleUpload ? ', upload_multiplier: 2' : ''}}`).join('\n') + '\n');
  return {
    registry: { source: 'file', users: usersPath, torrents: torrentsPath, poll_interval: '200ms' },
    async disableUser(passkey) {
      users.find((u) => u.passkey === passkey)!.enabled = false;
      writeUsers();
    },
    async addUser(passkey, siteId) {
      users.push({ passkey, siteId, enabled: true, canLeech: true });
      if (!broken) writeUsers();
    },
    async breakSource() {
      broken = true;
      writeFileSync(usersPath, 'passkey,site_id,enabled,can_leech\nthis-is-not-a-passkey,1,true,true\n');
    },
    async repairSource() {
      broken = false;
      writeUsers();
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
