/** Splits the config's "host:port" / "[v6]:port" / ":port" listen addresses. */
export function splitHostPort(addr: string): { host: string | undefined; port: number } {
  const colon = addr.lastIndexOf(':');
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? undefined : host, port: Number(addr.slice(colon + 1)) };
}

/** Errors that say the host has no IPv6 (kernel without it, or no address to bind). */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/**
 * Binds a listener on `host`. "Every interface" (host '::' or none) means IPv6 dual-stack — one
 * socket that also takes IPv4 clients, as ::ffff:a.b.c.d — and falls back to IPv4 only
 * ('0.0.0.0') where the host has no IPv6. Resolves with the host bound.
 */
export async function listenDualStack(host: string | undefined, bind: (host: string) => Promise<void>): Promise<string> {
  if (host !== undefined && host !== '::') {
    await bind(host);
    return host;
  }
  try {
    await bind('::');
    return '::';
  } catch (err) {
    if (!NO_IPV6.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await bind('0.0.0.0');
    return '0.0.0.0';
  }
}
