/**
 * The bench tools written in C (bench/*.c), compiled for a test: into a fresh directory removed
 * after the test, with -Werror. Without a C compiler the test is skipped, or fails in CI, where
 * the bench must build.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

interface TestContext {
  skip(message: string): void;
  after(fn: () => void): void;
}

/** Compiles `source` (bench/<name>.c) and returns the binary and its directory, or undefined when skipped. */
export function compileBenchC(t: TestContext, source: string, what: string): { bin: string; dir: string } | undefined {
  const name = basename(source, '.c');
  if (spawnSync('cc', ['--version']).status !== 0) {
    if (process.env['CI'] !== undefined && !['', '0', 'false'].includes(process.env['CI'])) assert.fail(`cc is missing: CI must be able to build bench/${name}.c`);
    t.skip(`cc is missing: ${what} is C`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, name);
  const cc = spawnSync('cc', ['-O2', '-Wall', '-Werror', '-o', bin, source], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `cc failed:\n${cc.stderr}`);
  return { bin, dir };
}
