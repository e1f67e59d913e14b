// Runs the npm `bittorrent-tracker` server (HTTP + UDP, no WebSocket, no stats page) for the benchmark.
// usage: node bt-tracker.mjs PORT
import Server from 'bittorrent-tracker/server';

const port = Number(process.argv[2] ?? 6969);
const server = new Server({ http: true, udp: true, ws: false, stats: false, trustProxy: false });
server.on('error', (err) => console.error('error', err.message));
server.on('warning', () => {});
server.on('listening', () => console.log(`bittorrent-tracker listening on ${port}`));
server.listen({ http: port, udp: port }, { http: '127.0.0.1', udp: '127.0.0.1', udp6: '::1' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
