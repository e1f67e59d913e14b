import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listenDualStack, splitHostPort } from '../src/net-addr.js';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('listen addresses', () => {
  it('splits host:port, [v6]:port and :port', () => {
    assert.deepEqual(splitHostPort('[::]:6969'), { host: '::', port: 6969 });
    assert.deepEqual(splitHostPort('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
    assert.deepEqual(splitHostPort(':6969'), { host: undefined, port: 6969 });
  });

  it('binds every interface dual-stack, falls back to IPv4 only where the host has no IPv6, and passes other errors on', async () => {
    const tried: string[] = [];
    const noV6 = (host: string) => { tried.push(host); return host === '::' ? Promise.reject(errno('EAFNOSUPPORT')) : Promise.resolve(); };
    assert.equal(await listenDualStack('::', noV6), '0.0.0.0');
    assert.equal(await listenDualStack(undefined, noV6), '0.0.0.0');
    assert.deepEqual(tried, ['::', '0.0.0.0', '::', '0.0.0.0']);
    assert.equal(await listenDualStack('::', () => Promise.resolve()), '::');
    await assert.rejects(listenDualStack('::', () => Promise.reject(errno('EADDRINUSE'))), /EADDRINUSE/);
    // An explicit address is bound as given, with no fallback.
    await assert.rejects(listenDualStack('::1', () => Promise.reject(errno('EADDRNOTAVAIL'))), /EADDRNOTAVAIL/);
  });
});
