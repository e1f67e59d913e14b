/** Splits the config's "host:port" / "[v6]:port" / ":port" listen addresses. */
export function splitHostPort(addr: string): { host: string | undefined; port: number } {
  const colon = addr.lastIndexOf(':');
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? undefined : host, port: Number(addr.slice(colon + 1)) };
}
