/**
 * `privtrak recover` as an operator meets it: the tracker refuses to start on a damaged
 * checkpoint and says which file and what to run; the command rebuilds the state; the tracker
 * starts again with every total and baseline as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeBytes, get } from '../support/http-client.js';
import { MAIN, freePort, startTracker, waitExit } from '../support/tracker-process.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

describe('privtrak recover', () => {
  it('rebuilds a damaged checkpoint from the previous one and the journal; the tracker then starts with every total as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-recover-'));
    const http = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `metrics_addr: ""\nhttp: {addr: "127.0.0.1:${http}"}\nudp: {addr: ""}\n`);
    const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
    const announce = (peer: number, up: number, event = '') => get(http,
      `/${PASSKEY}/announce?info_hash=${escapeBytes(Buffer.alloc(20, 7))}&peer_id=${escapeBytes(Buffer.alloc(20, peer))}&port=${6000 + peer}&uploaded=${up}&downloaded=0&left=0${event}`);
    const serve = async (steps: () => Promise<void>) => {
      const child = await startTracker(config, { cwd: dir });
      try {
        await steps();
      } finally {
        child.kill('SIGTERM');
        assert.equal(await waitExit(child), 0);
      }
    };
    try {
      // Two runs, each ending in a checkpoint: the second moves the first to baselines.ckpt.prev.
      await serve(async () => {
        for (let p = 1; p <= 5; p++) assert.equal((await announce(p, 1000 * p, '&event=started')).status, 200);
        // Not while the tracker runs: it owns the journal directory.
        const busy = cli('recover');
        assert.equal(busy.status, 1);
        assert.match(busy.stderr, /data\/journal is in use by process \d+ \(another privtrak, or privtrak recover\)/);
      });
      await serve(async () => {
        for (let p = 1; p <= 5; p++) assert.equal((await announce(p, 1000 * p + 10)).status, 200);
      });
      const totals = cli('stats', '--json');
      assert.equal(totals.status, 0, totals.stderr);
      const ckpt = join(dir, 'data', 'journal', 'baselines.ckpt');
      const bytes = readFileSync(ckpt);
      bytes[40] ^= 0xff; // inside the first entry: only the checksum tells
      writeFileSync(ckpt, bytes);

      const refused = spawnSync(process.execPath, [MAIN, 'serve', '--config', config], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /^privtrak: .*data\/journal\/baselines\.ckpt: damaged \(checksum mismatch\); run `privtrak recover` with the same --config/m);

      const recovered = cli('recover');
      assert.equal(recovered.status, 0, recovered.stderr);
      assert.match(recovered.stdout, /baselines\.ckpt: damaged \(checksum mismatch\); moved aside to baselines\.ckpt\.damaged-/);
      assert.match(recovered.stdout, /rebuilt the baseline checkpoint at seq 10: 5 baselines from the previous checkpoint \(seq 5\) and 5 journal records/);

      // Every peer's baseline is back: the next announces count exactly 5 more bytes each.
      await serve(async () => {
        for (let p = 1; p <= 5; p++) assert.equal((await announce(p, 1000 * p + 15)).status, 200);
      });
      const after = cli('stats', '--json');
      assert.equal(after.status, 0, after.stderr);
      const up = (out: string) => (JSON.parse(out.trim()) as { uploaded: number }).uploaded;
      assert.equal(up(after.stdout), up(totals.stdout) + 25);
      assert.equal(up(totals.stdout), 15_050);
      assert.match(cli('recover').stdout, /is sound; nothing to recover/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
