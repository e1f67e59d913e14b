/**
 * The listening socket of a node:cluster worker (`privtrak serve --workers N`), for the raw
 * transport (raw-tcp.ts).
 *
 * Every worker must accept on one port. A raw libuv handle that binds by itself gets EADDRINUSE
 * in the second worker (libuv sets SO_REUSEADDR, not SO_REUSEPORT, and Node 20 has no
 * reusePort option). So the socket comes from node:cluster, as it does for node:net: the
 * primary binds it once and, with `cluster.schedulingPolicy = SCHED_NONE` (serve-workers.ts sets
 * it), hands the same bound socket to every worker; each worker listens and accepts on it, the
 * kernel giving each connection to one of them. (The default policy, round-robin, has the
 * primary accept every connection and pass it over IPC: the primary becomes the bottleneck.)
 *
 * Measured against the alternative, SO_REUSEPORT (each worker its own socket and accept queue,
 * set through the native addon): on this 2-vCPU VM with wrk on the same cores, 2 workers with
 * connection close, 21.0k vs 21.3k and 14.6k vs 12.0k announces/s in alternating runs — no
 * difference beyond the noise. The shared socket needs no native code, keeps the connections
 * queued for a worker that dies (the others accept them), and cannot silently share the port with
 * another tracker started by mistake, which SO_REUSEPORT allows.
 *
 * We ask for the socket the public way — a net.Server listening in the worker — and take over
 * its handle: it is the same tcp_wrap TCP object raw-tcp.ts creates itself, and after
 * 'listening' only its `onconnection` changes. net.Server keeps owning it, so closing the
 * server also tells the primary this worker is done with the socket.
 */
import { createServer, type Server } from 'node:net';

/** A shared listening handle and how to give it back. */
export interface ClusterListenHandle<H> {
  readonly handle: H;
  close(): Promise<void>;
}

/**
 * Listens on `host`:`port` through node:cluster and returns the underlying handle, which must be
 * an instance of `handleClass` (a tcp_wrap TCP). Rejects when it is not — the cluster scheduling
 * policy is round-robin, whose worker handles are stand-ins — naming the fix.
 */
export function listenClusterShared<H extends object>(
  handleClass: abstract new (...args: never[]) => H, host: string, port: number, backlog: number,
): Promise<ClusterListenHandle<H>> {
  const server: Server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog, exclusive: false }, () => {
      server.off('error', reject);
      // net.Server's private handle: the one documented way to reach a cluster-shared socket's fd-level object.
      const handle = (server as unknown as { _handle?: unknown })._handle;
      if (!(handle instanceof handleClass)) {
        server.close();
        reject(new Error('the cluster-shared listener is not a TCP handle (cluster.schedulingPolicy must be SCHED_NONE); use http.transport: net'));
        return;
      }
      resolve({
        handle,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
