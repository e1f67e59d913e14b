// A dgram server that answers every BEP 15 packet with a fixed reply: the ceiling for the UDP load generator.
// usage: node trivial-udp.mjs PORT
import { createSocket } from 'node:dgram';

const sock = createSocket('udp4');
const connect = Buffer.alloc(16);
const announce = Buffer.alloc(20);
announce.writeUInt32BE(1, 0);
announce.writeUInt32BE(1800, 8);
sock.on('message', (msg, rinfo) => {
  if (msg.length < 16) return;
  const reply = msg.readUInt32BE(8) === 0 ? connect : announce;
  msg.copy(reply, 4, 12, 16);
  sock.send(reply, rinfo.port, rinfo.address);
});
sock.bind(Number(process.argv[2] ?? 6969), '127.0.0.1', () => console.log('trivial udp listening'));
