// How fast MariaDB applies counter deltas to 4,000 random rows of a 100,000-row table, per row, in
// the forms the UNIT3D writer could use (src/sites/unit3d/writer-sql.ts): a derived table of one
// SELECT per row joined by UNION ALL (the writer's old form), a MEMORY temporary table filled by one
// multi-row INSERT (its form now), the same in InnoDB or without a key, a table value constructor
// (MariaDB only), and INSERT … ON DUPLICATE KEY UPDATE (not usable on UNIT3D's tables: strict mode
// wants values for their NOT NULL columns). Each form: 8 transactions per round, 3 rounds.
// usage: node bench/counter-update-forms.mjs [mysql://root@127.0.0.1:3306/test]   (from the repository root)
// Writes only its own table, privtrak_bench_tt, dropped at the end.
import mysql from 'mysql2/promise';
const url = process.argv[2] ?? 'mysql://root@127.0.0.1:3306/test';
const c = await mysql.createConnection({ uri: url, multipleStatements: true });
await c.query('DROP TABLE IF EXISTS privtrak_bench_tt; CREATE TABLE privtrak_bench_tt (id int unsigned primary key, seeders int not null default 0, leechers int not null default 0, times_completed int not null default 0, balance bigint not null default 0, name varchar(255) not null, info_hash binary(20) not null, updated_at timestamp null, key (info_hash)) engine=InnoDB');
for (let i = 0; i < 100; i++) await c.query('INSERT INTO privtrak_bench_tt (id,name,info_hash) VALUES ' + Array.from({ length: 1000 }, (_, j) => `(${i * 1000 + j + 1},'torrent name ${j}',X'${(i*1000+j).toString(16).padStart(40,'0')}')`).join(','));
const N = 4000;
function rows() { const s = new Set(); while (s.size < N) s.add(1 + Math.floor(Math.random() * 100000)); return [...s].sort((a, b) => a - b); }
const variants = {
  unionAll: (ids) => `UPDATE privtrak_bench_tt t JOIN (${ids.map((id, i) => i === 0 ? `SELECT ${id} AS id, 1 AS ds, -1 AS dl, 0 AS dc, 12345 AS db, '2026-11-30 09:00:00' AS at` : `SELECT ${id},1,-1,0,12345,'2026-11-30 09:00:00'`).join(' UNION ALL ')}) d ON t.id = d.id SET t.seeders = t.seeders + d.ds, t.leechers = t.leechers + d.dl, t.times_completed = t.times_completed + d.dc, t.balance = t.balance + d.db, t.updated_at = d.at`,
  tvc: (ids) => `UPDATE privtrak_bench_tt t JOIN (SELECT 0 AS id, 0 AS ds, 0 AS dl, 0 AS dc, 0 AS db, NULL AS at UNION ALL VALUES ${ids.map((id) => `(${id},1,-1,0,12345,'2026-11-30 09:00:00')`).join(',')}) d ON t.id = d.id SET t.seeders = t.seeders + d.ds, t.leechers = t.leechers + d.dl, t.times_completed = t.times_completed + d.dc, t.balance = t.balance + d.db, t.updated_at = d.at`,
  temp: (ids) => `CREATE TEMPORARY TABLE IF NOT EXISTS td (id int unsigned primary key, ds int, dl int, dc int, db bigint, at timestamp null) ENGINE=MEMORY; DELETE FROM td; INSERT INTO td VALUES ${ids.map((id) => `(${id},1,-1,0,12345,'2026-11-30 09:00:00')`).join(',')}; UPDATE privtrak_bench_tt t JOIN td d ON t.id = d.id SET t.seeders = t.seeders + d.ds, t.leechers = t.leechers + d.dl, t.times_completed = t.times_completed + d.dc, t.balance = t.balance + d.db, t.updated_at = d.at`,
  tempInno: (ids) => `CREATE TEMPORARY TABLE IF NOT EXISTS ti (id int unsigned primary key, ds int, dl int, dc int, db bigint, at timestamp null) ENGINE=InnoDB; DELETE FROM ti; INSERT INTO ti VALUES ${ids.map((id) => `(${id},1,-1,0,12345,'2026-11-30 09:00:00')`).join(',')}; UPDATE privtrak_bench_tt t JOIN ti d ON t.id = d.id SET t.seeders = t.seeders + d.ds, t.leechers = t.leechers + d.dl, t.times_completed = t.times_completed + d.dc, t.balance = t.balance + d.db, t.updated_at = d.at`,
  tempNoPk: (ids) => `CREATE TEMPORARY TABLE IF NOT EXISTS tn (id int unsigned, ds int, dl int, dc int, db bigint, at timestamp null) ENGINE=MEMORY; DELETE FROM tn; INSERT INTO tn VALUES ${ids.map((id) => `(${id},1,-1,0,12345,'2026-11-30 09:00:00')`).join(',')}; UPDATE privtrak_bench_tt t JOIN tn d ON t.id = d.id SET t.seeders = t.seeders + d.ds, t.leechers = t.leechers + d.dl, t.times_completed = t.times_completed + d.dc, t.balance = t.balance + d.db, t.updated_at = d.at`,
  odku: (ids) => `INSERT INTO privtrak_bench_tt (id, seeders, leechers, times_completed, balance, updated_at, name, info_hash) VALUES ${ids.map((id) => `(${id},1,-1,0,12345,'2026-11-30 09:00:00','',X'00')`).join(',')} ON DUPLICATE KEY UPDATE seeders = seeders + VALUES(seeders), leechers = leechers + VALUES(leechers), times_completed = times_completed + VALUES(times_completed), balance = balance + VALUES(balance), updated_at = VALUES(updated_at)`,
};
for (let round = 0; round < 3; round++) for (const [name, build] of Object.entries(variants)) {
  let ms = 0;
  for (let r = 0; r < 8; r++) { const sql = build(rows()); const t = process.hrtime.bigint(); await c.query('BEGIN; ' + sql + '; COMMIT'); ms += Number(process.hrtime.bigint() - t) / 1e6; }
  console.log(name, (ms / 8 / N * 1000).toFixed(1), 'µs/row');
}
await c.query('DROP TABLE IF EXISTS privtrak_bench_tt');
await c.end();
