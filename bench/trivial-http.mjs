// A node:http server that returns a fixed bencoded body: the ceiling for the HTTP load generator.
// usage: node trivial-http.mjs PORT
import { createServer } from 'node:http';

const body = Buffer.from('d8:completei1e10:incompletei1e8:intervali1800e12:min intervali900e5:peers0:e');
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}).listen(Number(process.argv[2] ?? 6969), '127.0.0.1', () => console.log('trivial http listening'));
