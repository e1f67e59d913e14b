#!lua name=privtrak_v2
--[[
privtrak's Redis function library (design: /work/design-shared.md, "Key layout").
Every function works on the keys of ONE group (one hash tag, one Cluster slot) and is atomic.
Times come from ARGV (the trackers' clocks, epoch ms). Numbers are Lua doubles: every counter
is an integer below 2^53, which a double holds exactly, so nothing here rounds.

Keys of a group, T = "{<prefix>g<g>}". pt_announce and pt_counted are called with T itself as
their one key and build the group's key names from it; pt_gc gets T as ARGV `tag` to build swarm
keys from `seen` members. Same tag, same slot: Redis Cluster lets a function touch undeclared keys
of its declared key's slot. Cost notes (Redis CPU per counted announce): each redis.call costs
about as much as the command itself again (argv, ACL, reply to Lua), so calls are kept few.
  T:s4:<ih> T:l4:<ih> T:s6:<ih> T:l6:<ih>  hash peer_id -> <peer_id 20><compact peer>: the
           record a view returns, so a whole small list is one HVALS
  T:seen   zset <ih 20><kind s|l><family 4|6><peer_id 20> -> last announce ms
  T:dl     hash ih -> completed downloads
  T:n      hash swarms/seeders/leechers: this group's gauges
  T:b      hash <ih 20><user 16><peer_id 20> -> struct '>ddddd' (up, down, left, lastMs, seenMs)
  T:bseen  zset baseline field -> seenMs: the baseline's lastMs when its score was last written,
           at most `refreshMs` (1/8 of the baseline lifetime) older than lastMs, never newer
           (see refreshSeen)
  T:d      stream: entry <seq>-1, field r = the 208-byte delta record; its last ID is the
           group's last seq (max(last + 1, TIME ms × 1024): never goes back)
]]

local TWO32 = 4294967296
local MAX_SAFE = 9007199254740991
local FLAG_UNKNOWN_PEER = 1
local FLAG_COUNTER_REGRESSION = 2
-- Record event codes (src/accounting/delta-record.ts).
local EV_COMPLETED, EV_STARTED, EV_STOPPED = 1, 2, 3

-- The two u32 halves of an integer below 2^53 (records store u64 fields so).
local function halves(n)
  local hi = math.floor(n / TWO32)
  return hi, n - hi * TWO32
end

-- The four swarm hashes of one info_hash, built from the group's tag (for GC, which starts from `seen`).
local function swarmKey(tag, kind, fam, ih)
  return tag .. ':' .. kind .. fam .. ':' .. ih
end

-- The gauge steps as text (a number passed to redis.call costs a sprintf).
local STEP = { [-1] = '-1', [1] = '1' }

local function gaugeAdd(n, field, by)
  if by ~= 0 then redis.call('HINCRBY', n, field, STEP[by] or by) end
end

local function swarmSize(k1, k2, k3, k4)
  return redis.call('HLEN', k1) + redis.call('HLEN', k2) + redis.call('HLEN', k3) + redis.call('HLEN', k4)
end

-- Removes the peer a `seen` member names (it expired). Returns 1 if a peer was removed.
local function expire(seen, n, tag, member)
  local ih, kind, fam, pid = string.sub(member, 1, 20), string.sub(member, 21, 21), string.sub(member, 22, 22), string.sub(member, 23)
  redis.call('ZREM', seen, member)
  if redis.call('HDEL', swarmKey(tag, kind, fam, ih), pid) == 0 then return 0 end
  gaugeAdd(n, kind == 's' and 'seeders' or 'leechers', -1)
  if swarmSize(swarmKey(tag, 's', '4', ih), swarmKey(tag, 'l', '4', ih), swarmKey(tag, 's', '6', ih), swarmKey(tag, 'l', '6', ih)) == 0 then
    gaugeAdd(n, 'swarms', -1)
  end
  return 1
end

-- Removes up to `limit` peers last seen before `cutoff`. Returns how many.
local function collectPeers(seen, n, tag, cutoff, limit)
  -- Arguments as text: a Lua number passed to redis.call is formatted with sprintf on every call.
  local expired = redis.call('ZRANGEBYSCORE', seen, '-inf', '(' .. cutoff, 'LIMIT', '0', limit)
  local removed = 0
  for i = 1, #expired do removed = removed + expire(seen, n, tag, expired[i]) end
  return removed
end

-- `records` (<peer_id 20><compact> records of `stride` bytes) without the one of peer `pid`. The
-- search is a plain find; a match must start on a record boundary to be the peer's own id.
local function withoutRecord(records, pid, stride)
  local at = string.find(records, pid, 1, true)
  while at and (at - 1) % stride ~= 0 do at = string.find(records, pid, at + 1, true) end
  if not at then return records end
  return string.sub(records, 1, at - 1) .. string.sub(records, at + stride)
end

--[[
The announce context shared by pt_announce and pt_counted. K = the 7 swarm keys (s4, l4, s6, l6,
seen, dl, n; dl is built only when used: A[10] .. ':dl'); A = op, family, peer_id, compact, nowMs, numWant, role, ih, peerCutoffMs, tag.
op: s put seeder, l put leecher, g graduate (seeder + one download), d delete, v view only.
role (for the view): s seeder, l leecher, g gone.
]]
local function announce(K, A, out)
  local op, fam, pid, compact, now, numWant, role, ih = A[1], A[2], A[3], A[4], A[5], tonumber(A[6]), A[7], A[8]
  local seen, n = K[5], K[7]
  local S, L = K[1], K[2]
  if fam == '6' then S, L = K[3], K[4] end
  -- sizes: HLEN of s4, l4, s6, l6 (after the change), for the counts and the peer selection.
  local complete, incomplete, sizes
  if op == 'v' then
    -- The view alone: the swarm as it is, the announcer counted as `role` instead of as it stands.
    sizes = { redis.call('HLEN', K[1]), redis.call('HLEN', K[2]), redis.call('HLEN', K[3]), redis.call('HLEN', K[4]) }
    complete, incomplete = sizes[1] + sizes[3], sizes[2] + sizes[4]
    if complete + incomplete > 0 then
      if redis.call('HEXISTS', S, pid) == 1 then complete = complete - 1
      elseif redis.call('HEXISTS', L, pid) == 1 then incomplete = incomplete - 1 end
    end
  else
    -- Lazy GC: every announce pops up to 2 expired peers of its group, so a group stays bounded
    -- even between the GC lease holder's walks.
    collectPeers(seen, n, A[10], A[9], '2')
    -- The swarm change first, then the counts are read as they are after it. A peer is in one
    -- list of its family at a time; `seen` names where.
    local sMember, lMember = ih .. 's' .. fam .. pid, ih .. 'l' .. fam .. pid
    local dSeed, dLeech = 0, 0
    if op == 'd' then
      if redis.call('HDEL', S, pid) == 1 then dSeed = -1; redis.call('ZREM', seen, sMember) end
      if redis.call('HDEL', L, pid) == 1 then dLeech = -1; redis.call('ZREM', seen, lMember) end
    else
      local into, from, intoMember, fromMember = S, L, sMember, lMember
      if op == 'l' then into, from, intoMember, fromMember = L, S, lMember, sMember end
      -- Already in `into` (HSET says 0: the usual re-announce) means not in `from`: the other
      -- list is looked at only when the peer is new to this one.
      if redis.call('HSET', into, pid, pid .. compact) == 1 then
        if op == 'l' then dLeech = 1 else dSeed = 1 end
        if redis.call('HDEL', from, pid) == 1 then
          redis.call('ZREM', seen, fromMember)
          if op == 'l' then dSeed = -1 else dLeech = -1 end
        end
      end
      redis.call('ZADD', seen, now, intoMember)
      if op == 'g' then redis.call('HINCRBY', A[10] .. ':dl', ih, '1') end
    end
    sizes = { redis.call('HLEN', K[1]), redis.call('HLEN', K[2]), redis.call('HLEN', K[3]), redis.call('HLEN', K[4]) }
    complete, incomplete = sizes[1] + sizes[3], sizes[2] + sizes[4]
    local after = complete + incomplete
    local before = after - dSeed - dLeech
    gaugeAdd(n, 'seeders', dSeed)
    gaugeAdd(n, 'leechers', dLeech)
    if before == 0 and after > 0 then gaugeAdd(n, 'swarms', 1) elseif before > 0 and after == 0 then gaugeAdd(n, 'swarms', -1) end
    -- A put leaves the announcer counted as its role already; a delete (stopped, or hidden) does not.
    if op ~= 'd' then role = 'g' end
  end
  if role == 's' then complete = complete + 1 elseif role == 'l' then incomplete = incomplete + 1 end
  out[1], out[2] = complete, incomplete
  -- Peers of the announcer's family, never itself: a seeder gets leechers, a leecher seeders first.
  -- They go back as ONE bulk string of <peer_id 20><compact> records (the family fixes the
  -- compact's length): one reply element instead of two per peer, cheaper for Redis to build and
  -- to parse. The stored values are these records already.
  local wantRole = A[7]
  if wantRole == 'g' or numWant <= 0 then out[#out + 1] = ''; return end
  local stride = fam == '6' and 38 or 26
  local sizeS, sizeL = sizes[1], sizes[2]
  if fam == '6' then sizeS, sizeL = sizes[3], sizes[4] end
  local parts, taken = {}, 0
  local function take(key, size)
    local want = numWant - taken
    if want <= 0 or size == 0 then return end
    local got
    if size <= want then
      -- The whole list (most swarms are small): its values, without the announcer's record.
      got = withoutRecord(table.concat(redis.call('HVALS', key)), pid, stride)
    else
      -- At random; one more than needed, as the announcer itself may be among them.
      local r = redis.call('HRANDFIELD', key, want + 1, 'WITHVALUES')
      local picked, n = {}, 0
      for i = 1, #r, 2 do
        if n < want and r[i] ~= pid then n = n + 1; picked[n] = r[i + 1] end
      end
      got = table.concat(picked)
    end
    parts[#parts + 1] = got
    taken = taken + #got / stride
  end
  if wantRole == 'l' then take(S, sizeS) end
  take(L, sizeL)
  out[#out + 1] = table.concat(parts)
end

--[[
The announce context of a call. Both functions are called with ONE key, the group's tag (it
routes the call to the group's slot), and few arguments: each argument costs Redis a parsed
object and Lua an interned string, and an announce passed 26 of them. The group's key names are
built here from the tag (same tag, same slot: Redis Cluster allows undeclared keys of the
declared key's slot). ARGV: ops (3 bytes: op, family, role), peer_id, ih, compact, nowMs,
peerCutoffMs (decimal text: they go back to Redis as they are).
]]
local function announceContext(tag, args, numWant)
  local ops, ih = args[1], args[3]
  local K = { tag .. ':s4:' .. ih, tag .. ':l4:' .. ih, tag .. ':s6:' .. ih, tag .. ':l6:' .. ih, tag .. ':seen', false, tag .. ':n' }
  local A = { string.sub(ops, 1, 1), string.sub(ops, 2, 2), args[2], args[4], args[5], numWant, string.sub(ops, 3, 3), ih, args[6], tag }
  return K, A
end

-- pt_announce: KEYS tag; ARGV as announceContext + numWant. Returns {complete, incomplete, peers}.
local function ptAnnounce(keys, args)
  local K, A = announceContext(keys[1], args, tonumber(args[7]))
  local out = {}
  announce(K, A, out)
  return out
end

--[[
The rule table of src/middleware/privtrak/rules.ts, exactly (tested against computeDelta).
prev = {up, down, left, lastMs} or nil. Returns deltaUp, deltaDown, seedTime, leechTime, snatch,
flags, next (nil = remove the baseline).
]]
local function rules(prev, up, down, left, event, now, maxGap)
  local stopped = event == EV_STOPPED
  if prev == nil then
    local started = event == EV_STARTED
    local next = nil
    if not stopped then next = { up, down, left, now } end
    if started then return up, down, 0, 0, false, 0, next end
    return 0, 0, 0, 0, event == EV_COMPLETED, FLAG_UNKNOWN_PEER, next
  end
  local pUp, pDown, pLeft, pLast = prev[1], prev[2], prev[3], prev[4]
  local flags, dUp, dDown, nextUp, nextDown = 0, 0, 0, up, down
  if (up < pUp or down < pDown) and event == EV_STARTED then
    -- A new session of the same peer_id: BEP 3 counters restart at `started`.
    dUp, dDown = up, down
  else
    if up >= pUp then dUp = up - pUp else nextUp = pUp; flags = FLAG_COUNTER_REGRESSION end
    if down >= pDown then dDown = down - pDown else nextDown = pDown; flags = FLAG_COUNTER_REGRESSION end
  end
  local gap = now - pLast
  if gap < 0 then gap = 0 end
  if gap > maxGap then gap = maxGap end
  local seconds = math.floor(gap / 1000)
  local late = flags ~= 0
  local snatch = event == EV_COMPLETED or (pLeft > 0 and left == 0 and not late)
  local seed, leech = 0, 0
  if not late then
    if pLeft == 0 then seed = seconds else leech = seconds end
  end
  local next = nil
  if not stopped then
    local last = now
    if late then last = pLast end
    next = { nextUp, nextDown, left, last }
  end
  return dUp, dDown, seed, leech, snatch, flags, next
end

-- Whether a baseline's `bseen` score (seenMs, nil for a new baseline) must be set to its new lastMs.
-- It is rewritten only once lastMs has moved `refreshMs` past it (or back below it): most announces
-- then skip a ZADD (a skiplist delete + insert). The score stays <= lastMs, so the GC finds every
-- baseline past its lifetime, and within refreshMs of it (1/8 of the lifetime), so the GC seldom
-- meets a live one; when it does, it reads the baseline's own lastMs and keeps it (ptGc).
local function refreshSeen(seenMs, last, refreshMs)
  return seenMs == nil or last < seenMs or last - seenMs >= refreshMs
end

-- The seq part of a stream's last-generated-id (`<seq>-1`): kept by the stream even when XTRIM
-- has removed every entry.
local function lastSeq(d)
  local info = redis.call('XINFO', 'STREAM', d)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return tonumber(string.match(info[i + 1], '^(%d+)-')) end
  end
  return 0
end

-- credit() of delta-scratch.ts: floor(raw × multiplier), never above 2^53 - 1.
local function credit(raw, mult)
  if mult == 1 then return raw end
  local c = math.floor(raw * mult)
  if c > MAX_SAFE then return MAX_SAFE end
  return c
end

--[[
pt_counted: one counted announce of the privtrak hook in shared mode, atomically.
KEYS: tag. ARGV: as announceContext, then record (208 bytes: the request's facts, zero deltas),
  then params = struct '>dddddd' numWant, upMult, downMult, maxGapMs, maxStream, bseenRefreshMs
  (doubles: exactly the caller's numbers), then [deadlineMs].
Returns {complete, incomplete, flags, deltaUp, deltaDown, creditUp, creditDown, seedTime,
  leechTime, snatch 0|1, seq, peers} (peers: one string of <peer_id 20><compact> pairs), or the error PT_BUSY (nothing changed).
]]
local function ptCounted(keys, args)
  local tag = keys[1]
  local b, bseen, d = tag .. ':b', tag .. ':bseen', tag .. ':d'
  local record = args[7]
  -- deadlineMs (epoch ms, the tracker's send time + command_timeout): past it the tracker has
  -- answered this announce "busy" and its client may have announced again since. A command Redis
  -- reads that late (Redis paused, a long backlog) must change nothing, or it would land after
  -- the client's later announces (F1, design Changes: "ghost" commands).
  if args[9] then
    local t = redis.call('TIME')
    if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(args[9]) then
      return redis.error_reply('PT_BUSY past the tracker\'s command_timeout')
    end
  end
  local numWant, upMult, downMult, maxGap, maxStream, refreshMs = struct.unpack('>dddddd', args[8])
  if redis.call('XLEN', d) >= maxStream then
    return redis.error_reply('PT_BUSY the delta stream of this group is at its bound')
  end
  local now = tonumber(args[5])
  local event = string.byte(record, 2)
  -- uploaded, downloaded, left: u64 at offsets 24, 32, 40, read in one unpack.
  local uh, ul, dh, dlo, lh, ll = struct.unpack('>I4I4I4I4I4I4', record, 25)
  local up, down, left = uh * TWO32 + ul, dh * TWO32 + dlo, lh * TWO32 + ll
  -- The baseline field: <ih 20><user 16><peer_id 20>, taken from the record itself.
  local field = string.sub(record, 89, 108) .. string.sub(record, 73, 88) .. string.sub(record, 109, 128)
  local stored = redis.call('HGET', b, field)
  local prev, seenMs = nil, nil
  if stored then
    local pu, pd, pl, plast = struct.unpack('>dddd', stored)
    prev = { pu, pd, pl, plast }
    -- A 32-byte baseline (written before seenMs existed) has its score refreshed.
    if #stored >= 40 then seenMs = struct.unpack('>d', stored, 33) end
  end
  local dUp, dDown, seed, leech, snatch, flags, next = rules(prev, up, down, left, event, now, maxGap)
  local cUp, cDown = credit(dUp, upMult), credit(dDown, downMult)
  -- Keep the template's IPv6 and site-torrent-id bits; set snatch (1) and has-baseline (2).
  local bits = bit.band(string.byte(record, 4), 12)
  if snatch then bits = bits + 1 end
  local baseline
  if next == nil then baseline = string.rep('\0', 32)
  else
    local a1, a2 = halves(next[1])
    local b1, b2 = halves(next[2])
    local c1, c2 = halves(next[3])
    local d1, d2 = halves(next[4])
    baseline = struct.pack('>I4I4I4I4I4I4I4I4', a1, a2, b1, b2, c1, c2, d1, d2)
    bits = bits + 2
  end
  local u1, u2 = halves(dUp)
  local w1, w2 = halves(dDown)
  local x1, x2 = halves(cUp)
  local y1, y2 = halves(cDown)
  -- Offsets (0-based) from delta-record.ts; Lua's string.sub is 1-based and inclusive. One pack
  -- per run of patched fields: the record is rebuilt from 10 pieces, the seq (bytes 8-15) between.
  local head = string.sub(record, 1, 2) .. struct.pack('>BB', flags, bits) .. string.sub(record, 5, 8)
  local tail = table.concat({
    string.sub(record, 17, 48), struct.pack('>I4I4I4I4I4I4', u1, u2, w1, w2, seed, leech),
    string.sub(record, 73, 144), baseline, string.sub(record, 177, 184), struct.pack('>I4I4I4I4', x1, x2, y1, y2), string.sub(record, 201, 208),
  })
  -- seq = max(last + 1, Redis TIME in ms × 1024) (design, Changes): a group's seq never goes back,
  -- even after a Redis that lost the stream (no persistence, or a crash under appendfsync
  -- everysec). `last` is the stream's last entry ID, which XADD itself checks: the floor is tried
  -- first (it wins unless two deltas of this group fell in one µs or Redis's clock went back),
  -- and only a refused floor costs a look at the stream's last-generated-id. About 1.8e15 today:
  -- far below 2^53, and exact in a double.
  -- Writes start here, with the one that can fail (an entry ID not above the stream's last one):
  -- a failed XADD writes nothing, and the baseline moves only once the delta is there.
  -- The floor steps within its ms by the microsecond (0..1023 for 0..999 µs): two announces of a
  -- group a few µs apart (one call takes more) get different floors, so the fallback stays rare.
  local time = redis.call('TIME')
  local usec = tonumber(time[2])
  local seq = (tonumber(time[1]) * 1000 + math.floor(usec / 1000)) * 1024 + math.floor((usec % 1000) * 1024 / 1000)
  local function add(s)
    local s1, s2 = halves(s)
    -- %.0f, not tostring/..: Lua formats numbers with 14 significant digits.
    return redis.pcall('XADD', d, string.format('%.0f', s) .. '-1', 'r', head .. struct.pack('>I4I4', s1, s2) .. tail)
  end
  local added = add(seq)
  if type(added) == 'table' and added.err then
    seq = lastSeq(d) + 1
    added = add(seq)
    if type(added) == 'table' and added.err then return added end
  end
  if next == nil then
    if prev ~= nil then
      redis.call('HDEL', b, field)
      redis.call('ZREM', bseen, field)
    end
  else
    if refreshSeen(seenMs, next[4], refreshMs) then
      seenMs = next[4]
      redis.call('ZADD', bseen, seenMs, field)
    end
    redis.call('HSET', b, field, struct.pack('>ddddd', next[1], next[2], next[3], next[4], seenMs))
  end
  local out = { 0, 0, flags, dUp, dDown, cUp, cDown, seed, leech, snatch and 1 or 0, seq }
  local K, A = announceContext(tag, args, numWant)
  announce(K, A, out)
  return out
end

-- pt_scrape: KEYS s4, l4, s6, l6, dl; ARGV ih. Returns {complete, incomplete, downloaded}.
local function ptScrape(keys, args)
  local complete = redis.call('HLEN', keys[1]) + redis.call('HLEN', keys[3])
  local incomplete = redis.call('HLEN', keys[2]) + redis.call('HLEN', keys[4])
  return { complete, incomplete, tonumber(redis.call('HGET', keys[5], args[1]) or '0') }
end

--[[
pt_gc: KEYS seen, n, b, bseen; ARGV peerCutoffMs, baselineCutoffMs, limit, tag.
Removes up to `limit` expired peers and looks at up to `limit` baselines whose `bseen` score is
below the cutoff: one whose own lastMs is below it too is removed; one announced since (its score
lags, see BSEEN_REFRESH_MS) gets its score moved up to its lastMs and stays.
Returns {peers removed, baselines removed, baselines looked at} (the caller calls again while
either count looked at reaches `limit`).
]]
local function ptGc(keys, args)
  local b, bseen = keys[3], keys[4]
  local limit, cutoff = tonumber(args[3]), tonumber(args[2])
  local peers = collectPeers(keys[1], keys[2], args[4], args[1], args[3])
  local old = redis.call('ZRANGEBYSCORE', bseen, '-inf', '(' .. args[2], 'LIMIT', 0, limit)
  local removed = 0
  for i = 1, #old do
    local v = redis.call('HGET', b, old[i])
    local last = v and struct.unpack('>d', v, 25)
    if last == nil or last < cutoff then
      if v then removed = removed + 1; redis.call('HDEL', b, old[i]) end
      redis.call('ZREM', bseen, old[i])
    else
      redis.call('ZADD', bseen, last, old[i])
      redis.call('HSET', b, old[i], string.sub(v, 1, 32) .. struct.pack('>d', last))
    end
  end
  return { peers, removed, #old }
end

-- pt_lease: KEYS lease; ARGV holder, ttlMs. Takes the lease or renews it if `holder` has it: 1, else 0.
local function ptLease(keys, args)
  local cur = redis.call('GET', keys[1])
  if cur == args[1] then
    redis.call('PEXPIRE', keys[1], args[2])
    return 1
  end
  if cur then return 0 end
  redis.call('SET', keys[1], args[1], 'PX', args[2])
  return 1
end

-- pt_lease_release: KEYS lease; ARGV holder. Gives the lease up if `holder` has it.
local function ptLeaseRelease(keys, args)
  if redis.call('GET', keys[1]) == args[1] then return redis.call('DEL', keys[1]) end
  return 0
end

redis.register_function('pt_announce_v2', ptAnnounce)
redis.register_function('pt_counted_v2', ptCounted)
redis.register_function{ function_name = 'pt_scrape_v2', callback = ptScrape, flags = { 'no-writes' } }
redis.register_function('pt_gc_v2', ptGc)
redis.register_function('pt_lease_v2', ptLease)
redis.register_function('pt_lease_release_v2', ptLeaseRelease)
