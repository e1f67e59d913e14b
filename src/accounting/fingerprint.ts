/** Names a secret (a passkey) in logs without revealing it: `sha256:` and 8 hex characters of its SHA-256. */
import { createHash } from 'node:crypto';

export function fingerprint(secret: string | Uint8Array): string {
  const text = typeof secret === 'string' ? secret.toLowerCase() : Buffer.from(secret).toString('hex');
  return `sha256:${createHash('sha256').update(text, 'latin1').digest('hex').slice(0, 8)}`;
}
