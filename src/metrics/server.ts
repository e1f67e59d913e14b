/**
 * The metrics listener: GET /metrics in Prometheus text format. Kept on its own address
 * (127.0.0.1 by default). Other routes (the status page, the admin API) are mounted with `extra`,
 * tried in order.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { splitHostPort } from '../net-addr.js';

/** Handles a request and returns true, or returns false to fall through to 404. */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Where the text of a scrape comes from: a prom-client Registry, or the merged registries of `serve --workers N`. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export async function startMetricsServer(addr: string, registry: MetricsSource, extra: readonly ExtraRoutes[] = []): Promise<Server> {
  const server = createServer((req, res) => {
    for (const route of extra) if (route(req, res)) return;
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics error: ${err.message}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  const { host, port } = splitHostPort(addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
