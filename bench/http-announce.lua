-- wrk script: announces with info_hashes and peer_ids drawn at random from fixed pools.
-- Environment: IH_POOL (default 1000 info_hashes), PEER_POOL (default 100000 peer_ids), NUMWANT (50),
-- PASSKEY (optional: announces to /<passkey>/announce). Pools are seeded, so every run and every
-- tracker sees the same hashes (opentracker's whitelist is written from the same seed).
-- "Connection: close" is added with wrk -H to measure one connection per request.

local ih_pool = tonumber(os.getenv("IH_POOL") or "1000")
local peer_pool = tonumber(os.getenv("PEER_POOL") or "100000")
local numwant = os.getenv("NUMWANT") or "50"
local passkey = os.getenv("PASSKEY")
local path = passkey and ("/" .. passkey .. "/announce") or "/announce"

local function hex_ih(i)
  -- 20 bytes: deterministic function of i, same as bench/hashes.mjs.
  local s = string.format("%08x", i)
  return string.rep("0", 40 - #s - 8) .. "beefbeef" .. s
end

local function pct(hex)
  return (hex:gsub("..", function(b) return "%" .. b end))
end

local hashes = {}
for i = 1, ih_pool do hashes[i] = pct(hex_ih(i)) end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(42 + (tid or 0))
end

request = function()
  local ih = hashes[math.random(1, ih_pool)]
  local peer = math.random(1, peer_pool)
  local pid = string.format("-BE0001-%012d", peer)
  local left = (peer % 2 == 0) and "0" or "1000"
  local p = path .. "?info_hash=" .. ih .. "&peer_id=" .. pid .. "&port=" .. (1024 + peer % 60000)
    .. "&uploaded=0&downloaded=0&left=" .. left .. "&numwant=" .. numwant .. "&compact=1"
  return wrk.format("GET", p)
end
