/**
 * contrib/systemd/privtrak.service (issue 15, point 6), checked with `systemd-analyze verify`.
 * The unit runs `node <flags> /usr/local/bin/privtrak ...`; a copy whose script is this checkout's
 * CLI (dist/src/cli/main.js, same flags and arguments) is verified, with node found on systemd's
 * search path as the shipped unit finds it; everything else is the file as shipped.
 * verify exits 0 on a misspelled key (it only warns), so any line about the unit fails the test:
 * two broken copies prove it catches both kinds. Without systemd-analyze: skipped, failed in CI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, ROOT } from '../support/tracker-process.js';

const UNIT = join(ROOT, 'contrib', 'systemd', 'privtrak.service');
const ANALYZE = 'systemd-analyze';

/** Why systemd-analyze cannot run here, or undefined when it can. */
function analyzeMissing(): string | undefined {
  const r = spawnSync(ANALYZE, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) return r.error.message;
  return r.status === 0 ? undefined : `exit ${r.status}`;
}

function analyzeOrSkip(t: { skip(msg: string): void }): boolean {
  const problem = analyzeMissing();
  if (problem === undefined) return true;
  if (process.env['CI'] === 'true') throw new Error(`systemd-analyze is required in CI (Debian package systemd): ${problem}`);
  t.skip(`systemd-analyze not available (${problem})`);
  return false;
}

/** Verifies `text` as privtrak.service in a fresh directory: the exit code and every line naming the unit. */
function verify(text: string): { status: number | null; complaints: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-unit-'));
  try {
    const path = join(dir, 'privtrak.service');
    writeFileSync(path, text);
    const r = spawnSync(ANALYZE, ['verify', path], { encoding: 'utf8', timeout: 60_000 });
    const complaints = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('privtrak.service'));
    return { status: r.status, complaints };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const shipped = readFileSync(UNIT, 'utf8');
const execStart = /^ExecStart=node((?: --\S+)*) \/usr\/local\/bin\/privtrak (.*)$/m.exec(shipped);

/** The shipped unit with ExecStart's script replaced by this checkout's CLI. */
function runnable(text: string): string {
  return text.replace(/^(ExecStart=node(?: --\S+)*) \/usr\/local\/bin\/privtrak /m, `$1 ${MAIN} `);
}

describe('contrib/systemd/privtrak.service', () => {
  it('passes systemd-analyze verify, with no warning', (t) => {
    if (!analyzeOrSkip(t)) return;
    assert.notEqual(runnable(shipped), shipped, 'the script is replaced');
    const r = verify(runnable(shipped));
    assert.deepEqual(r, { status: 0, complaints: [] });
  });

  it('verify catches a broken copy: a misspelled hardening key, and a missing binary', (t) => {
    if (!analyzeOrSkip(t)) return;
    const typo = verify(runnable(shipped).replace(/^ProtectSystem=strict$/m, 'ProtectSytem=strict'));
    assert.ok(typo.complaints.some((l) => /Unknown key 'ProtectSytem'/.test(l)), `a misspelled key is reported: ${typo.complaints.join('\n')}`);
    const missing = verify(shipped.replace(/^ExecStart=\S+ /m, 'ExecStart=/nonexistent/privtrak '));
    assert.notEqual(missing.status, 0, 'a missing binary fails verify');
    assert.ok(missing.complaints.some((l) => /not executable/.test(l)), missing.complaints.join('\n'));
  });

  it('runs `privtrak serve --config /etc/privtrak/config.yaml`, whose default paths land in the StateDirectory', () => {
    assert.ok(execStart !== null, 'one ExecStart line');
    assert.equal(execStart[2], 'serve --config /etc/privtrak/config.yaml');
    for (const line of ['StateDirectory=privtrak', 'ConfigurationDirectory=privtrak', 'WorkingDirectory=/var/lib/privtrak', 'LimitNOFILE=1048576', 'LimitNICE=+0',
      'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes', 'Restart=on-failure', 'User=privtrak']) {
      assert.ok(shipped.split('\n').includes(line), line);
    }
    assert.doesNotMatch(shipped, /^MemoryDenyWriteExecute=yes/m, 'V8 needs writable and executable memory');
    // The CLI takes --config, and the example config keeps its state under ./data (the working directory).
    const r = spawnSync(process.execPath, [MAIN, 'check-config', '--config', join(ROOT, 'config.example.yaml')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(r.stdout) as { user_key_secret: string; prehooks: Array<{ name: string; options: { journal_dir: string; sink: { path?: string } } }> };
    const privtrak = config.prehooks.find((h) => h.name === 'privtrak')!;
    for (const path of [config.user_key_secret, privtrak.options.journal_dir, privtrak.options.sink.path ?? '']) {
      assert.match(path, /^\.\/data\//, `${path} is relative to WorkingDirectory`);
    }
    // TimeoutStopSec leaves room for shutdown_timeout (the flush on SIGTERM) before systemd's SIGKILL.
    const stopSec = Number(/^TimeoutStopSec=(\d+)s$/m.exec(shipped)?.[1]);
    assert.ok(stopSec > 5 + 1, `TimeoutStopSec ${stopSec}s > shutdown_timeout 5s + the primary's 1 s`);
  });
});
