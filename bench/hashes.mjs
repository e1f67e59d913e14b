// Prints the benchmark's info_hash pool as hex, one per line (opentracker's whitelist format).
// Must match hex_ih() in http-announce.lua and ih_of() in udp-load.c.
// usage: node hashes.mjs COUNT
const n = Number(process.argv[2] ?? 1000);
const lines = [];
for (let i = 1; i <= n; i++) {
  const s = i.toString(16).padStart(8, '0');
  lines.push('0'.repeat(40 - s.length - 8) + 'beefbeef' + s);
}
console.log(lines.join('\n'));
