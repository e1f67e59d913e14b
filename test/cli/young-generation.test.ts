import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RECOMMENDED_SEMI_SPACE_MB, logYoungGeneration, semiSpaceSizeMb, youngGenerationNote } from '../../src/cli/young-generation.js';
import { waitUntil } from '../e2e/clients.js';
import { startTracker, waitExit, withConfig } from '../support/tracker-process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');


describe('V8 young generation (src/cli/young-generation.ts)', () => {
  it('reads --max-semi-space-size from the flags and NODE_OPTIONS, the command line winning', () => {
    assert.equal(semiSpaceSizeMb([], undefined), undefined);
    assert.equal(semiSpaceSizeMb(['--max-semi-space-size=32'], undefined), 32);
    assert.equal(semiSpaceSizeMb([], '--enable-source-maps --max_semi_space_size=64'), 64);
    assert.equal(semiSpaceSizeMb(['--max-semi-space-size=16'], '--max-semi-space-size=64'), 16);
    assert.equal(semiSpaceSizeMb(['--max-old-space-size=4096'], '--max-semi-space-sizeX=9'), undefined);
  });

  it('says nothing more when the size is at least the recommended one, and how to set it otherwise', () => {
    assert.deepEqual(youngGenerationNote(['--max-semi-space-size=32'], ''), { semiSpaceMb: 32 });
    assert.deepEqual(youngGenerationNote([], '--max-semi-space-size=64'), { semiSpaceMb: 64 });
    const small = youngGenerationNote(['--max-semi-space-size=8'], undefined);
    assert.equal(small.semiSpaceMb, 8);
    assert.match(small.hint ?? '', /NODE_OPTIONS=--max-semi-space-size=32/);
    let out = '';
    const sink = new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } });
    logYoungGeneration(pino(sink), youngGenerationNote([], undefined));
    assert.match(out, /"semiSpaceMb":"default".*V8's default: for fewer full garbage collections under load start node with --max-semi-space-size=32/);
  });

  it('npm start and the systemd unit start node with the recommended size', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    assert.equal(semiSpaceSizeMb(pkg.scripts.start.split(' '), undefined), RECOMMENDED_SEMI_SPACE_MB, pkg.scripts.start);
    const unit = readFileSync(join(ROOT, 'contrib', 'systemd', 'privtrak.service'), 'utf8');
    const env = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1];
    assert.equal(semiSpaceSizeMb([], env), RECOMMENDED_SEMI_SPACE_MB, 'the unit sets NODE_OPTIONS');
  });

  it('a tracker started with NODE_OPTIONS logs the size it runs with', async () => {
    const cfg = withConfig('metrics_addr: ""\nhttp: {addr: "127.0.0.1:0"}\nudp: {addr: ""}\n');
    let out = '';
    const child = await startTracker(cfg.path, { onOutput: (t) => { out += t; }, cwd: dirname(cfg.path), env: { NODE_OPTIONS: '--max-semi-space-size=32' } });
    try {
      await waitUntil(() => out.includes('V8 young generation'), 5000, 'the young generation log line');
      assert.match(out, /"semiSpaceMb":32,"msg":"V8 young generation set for the tracker"/);
    } finally {
      child.kill('SIGKILL');
      await waitExit(child);
      cfg.cleanup();
    }
  });
});
