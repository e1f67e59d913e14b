-- wrk script: HTTP announces with info_hashes and peer_ids drawn at random from fixed pools.
--
-- Settings, as environment variables or as wrk script arguments after "--" (arguments win):
--   IH_POOL    info_hashes in the pool (default 1000)
--   PEER_POOL  peer_ids in the pool (default 100000)
--   NUMWANT    numwant= in every announce (default 50)
--   CLOSE      1 = send "Connection: close" (one TCP connection per announce), 0 = keep-alive (default 0;
--              wrk -H "Connection: close" does the same)
--   PASSKEY    optional: announce to /<PASSKEY>/announce instead of /announce
--   PASSKEY_POOL  optional, N > 0: N users, passkey of peer p = 32 hex digits of (p % N) + 1
--   PASSKEY_FILE  optional: a file of passkeys, one per line: peer p announces with line (p % lines) + 1
--              (the same mapping as bench/open-loop.c and udp-load.c's `passkeys FILE`); wins over PASSKEY_POOL
--   PATH_FORMAT   with a passkey: the path, %s = the passkey (default /%s/announce; UNIT3D: /announce/%s)
--   FIXED_IH   1 = each peer announces one torrent only (info_hash (p % IH_POOL) + 1), as a real
--              client does, instead of a random one per request
--   COUNTERS   1 = each peer's uploaded/downloaded grow between its announces (per wrk thread)
--   IH_SPREAD  1 = the info_hash's first two bytes are i's low 16 bits (the rest as without it), so
--              the first bytes vary as a real SHA-1's do: the Redis store groups swarms by them
-- e.g. IH_POOL=1000 wrk -t1 -c64 -d10s --latency -s bench/http-announce.lua http://127.0.0.1:6969 -- CLOSE=1
--
-- The pools are deterministic, so every run and every tracker sees the same info_hashes (opentracker's
-- whitelist is written by bench/hashes.mjs from the same formula); the random draws are seeded per thread.
-- Half of the peers are seeders (left=0), half leechers.

local settings = {}

local function setting(name, default)
  local v = settings[name] or os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local ih_spread = false

local function hex_ih(i)
  -- 20 bytes: deterministic function of i, same as bench/hashes.mjs and ih_of() in bench/udp-load.c.
  local s = string.format("%08x", i)
  if ih_spread then return string.format("%04x", i % 65536) .. string.rep("0", 28 - #s) .. "beefbeef" .. s end
  return string.rep("0", 40 - #s - 8) .. "beefbeef" .. s
end

local function pct(hex)
  return (hex:gsub("..", function(b) return "%" .. b end))
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local ih_pool, peer_pool, numwant, path, headers, passkey_pool, path_format, fixed_ih, counters
local hashes = {}
local passkey_list = {}
local up = {}

function init(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then settings[k:upper()] = v end
  end
  ih_pool = tonumber(setting("IH_POOL", "1000"))
  peer_pool = tonumber(setting("PEER_POOL", "100000"))
  numwant = setting("NUMWANT", "50")
  local passkey = setting("PASSKEY", nil)
  path_format = setting("PATH_FORMAT", "/%s/announce")
  passkey_pool = tonumber(setting("PASSKEY_POOL", "0"))
  fixed_ih = setting("FIXED_IH", "0") == "1"
  counters = setting("COUNTERS", "0") == "1"
  ih_spread = setting("IH_SPREAD", "0") == "1"
  local passkey_file = setting("PASSKEY_FILE", nil)
  if passkey_file then
    local f = assert(io.open(passkey_file, "r"), "cannot open PASSKEY_FILE " .. passkey_file)
    for line in f:lines() do
      local k = line:match("^%s*(%S+)")
      if k then passkey_list[#passkey_list + 1] = k end
    end
    f:close()
    assert(#passkey_list > 0, "PASSKEY_FILE is empty")
  end
  path = passkey and string.format(path_format, passkey) or "/announce"
  headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  if setting("CLOSE", "0") == "1" then headers["Connection"] = "close" end
  for i = 1, ih_pool do hashes[i] = pct(hex_ih(i)) end
  math.randomseed(42 + (tid or 0))
end

request = function()
  local peer = math.random(1, peer_pool)
  local ih = fixed_ih and hashes[(peer % ih_pool) + 1] or hashes[math.random(1, ih_pool)]
  local p_path = path
  if #passkey_list > 0 then p_path = string.format(path_format, passkey_list[(peer % #passkey_list) + 1])
  elseif passkey_pool > 0 then p_path = string.format(path_format, string.format("%032x", (peer % passkey_pool) + 1)) end
  local u = 0
  if counters then u = (up[peer] or 0) + math.random(1, 1000000); up[peer] = u end
  local pid = string.format("-BE0001-%012d", peer)
  local left = (peer % 2 == 0) and "0" or "1000"
  local p = p_path .. "?info_hash=" .. ih .. "&peer_id=" .. pid .. "&port=" .. (1024 + peer % 60000)
    .. "&uploaded=" .. u .. "&downloaded=0&left=" .. left .. "&numwant=" .. numwant .. "&compact=1"
  return wrk.format("GET", p, headers)
end
