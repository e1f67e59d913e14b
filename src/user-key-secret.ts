/**
 * The installation's user-key secret (config `user_key_secret`, default ./data/user-key.secret):
 * 32 random bytes, the HMAC key of open-mode user keys (accounting/user-key.ts). Created on the
 * first start that needs it — exclusively (O_EXCL, then link), mode 0600, fsynced with its directory — and
 * read as it is ever after. Lose it and every hashed key of this installation is orphaned (the
 * totals stay, but no passkey finds them again): back it up with the data.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { nodeFs, type DurableFs } from './durable-fs.js';

export const USER_KEY_SECRET_BYTES = 32;

/** The secret file is missing (and not to be created) or not a secret. */
export class UserKeySecretError extends Error {
  readonly code = 'USER_KEY_SECRET';
  constructor(readonly path: string, why: string) {
    super(`user_key_secret ${path}: ${why}`);
  }
}

export interface LoadSecretOptions {
  /** Create the file if it does not exist (the tracker, `privtrak migrate`); false: a command that only reads. */
  readonly create: boolean;
  readonly fs?: DurableFs;
}

/** Reads the secret at `path`, creating it first when allowed. */
export function loadUserKeySecret(path: string, opts: LoadSecretOptions): Buffer {
  if (!existsSync(path)) {
    if (!opts.create) throw new UserKeySecretError(path, 'does not exist (it is created by the first tracker start that needs it)');
    create(path, opts.fs ?? nodeFs);
  }
  const secret = readFileSync(path);
  if (secret.length !== USER_KEY_SECRET_BYTES) {
    throw new UserKeySecretError(path, `expected ${USER_KEY_SECRET_BYTES} bytes, found ${secret.length}: restore it from your backup`);
  }
  return secret;
}

function create(path: string, fs: DurableFs): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  // Written whole under a name of its own, then linked into place: link(2) fails if the name
  // exists, so two processes starting at once never see a half-written secret or two secrets.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, randomBytes(USER_KEY_SECRET_BYTES));
      fs.fsyncSync(fd, tmp);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      // Another process created it first: theirs is the secret.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } finally {
    unlinkSync(tmp);
  }
  fs.fsyncDirSync(dir);
}
