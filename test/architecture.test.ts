/**
 * The layering the README describes, checked on the sources: a layer imports only what is below
 * it. A change that makes a sink reach into the privtrak hook's files (or the protocol codecs
 * into anything) fails here instead of in review.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './support/tracker-process.js';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The src-relative modules a file imports, without extension (relative imports only; packages and node: are not layers). */
function importedFiles(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!)).replaceAll('\\', '/').replace(/\.js$/, ''));
  }
  return out;
}

/** For each layer (a folder under src/), the folders it may import from besides its own. */
const ALLOWED: Record<string, string[]> = {
  bittorrent: [],
  accounting: ['bittorrent'],
  sinks: ['accounting', 'bittorrent'],
};

/**
 * Single files a layer may import besides ALLOWED: leaves that import nothing of the tracker (the
 * byte-key index only the two typed-array helpers beside it, checked below).
 */
const ALLOWED_FILES: Record<string, string[]> = {
  sinks: ['config/zod-duration', 'config/duration', 'byte-key-index'],
};

/** The generic helpers at src/'s top that the layers above may share, and all they may import. */
const LEAVES: Record<string, string[]> = {
  'byte-key-index': ['resizable-arrays', 'keyed-hash'],
  'record-index': ['byte-key-index'],
  'resizable-arrays': [],
  'keyed-hash': [],
  'turn-end': [],
  'work-slicer': [],
};

describe('layering', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`src/${layer}/ imports only from ${allowed.length ? allowed.join(', ') : 'itself'}`, () => {
      const files = sources(join(SRC, layer));
      assert.ok(files.length > 0, `src/${layer} has sources`);
      const bad: string[] = [];
      for (const f of files) {
        for (const mod of importedFiles(f)) {
          const top = mod.split('/')[0]!;
          if (top === layer || allowed.includes(top) || (ALLOWED_FILES[layer] ?? []).includes(mod)) continue;
          bad.push(`${relative(SRC, f)} imports from src/${dirname(mod)}`);
        }
      }
      assert.deepEqual(bad, []);
    });
  }

  for (const [leaf, allowed] of Object.entries(LEAVES)) {
    it(`src/${leaf}.ts imports ${allowed.length ? `only ${allowed.join(', ')}` : 'nothing'} of the tracker`, () => {
      assert.deepEqual(importedFiles(join(SRC, `${leaf}.ts`)).filter((mod) => !allowed.includes(mod)), []);
    });
  }
});
