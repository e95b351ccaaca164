"""The Lua scripts, each with its contract. Register them once per client
(``client.register_script``): redis-py sends EVALSHA and reloads on NOSCRIPT."""

from __future__ import annotations

# The seed's atomic decrement (seed-design.md §4.3), verbatim: the baseline `frolic bench
# allocate` measures against. The engine never runs it (DECIDE_BATCH does its work).
#   KEYS[1]  budget:game:{g}:brand:{b}
#   ARGV[1]  n, how many coupons to take
#   returns  1 if taken, 0 if fewer than n were left (nothing changes)
SEED_DECREMENT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if current >= n then
    redis.call('DECRBY', KEYS[1], n)
    return 1
end
return 0
"""

# The Redis run. A game's pacing hash records, next to its epoch, the run it was loaded (or
# rebuilt) under: the server's run_id, read in the script as
#     string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
# and new at every start of the server. A server started again may have come back from
# persistence files older than what it had answered (an append-only file missing its last
# second, an RDB snapshot, a lagging replica promoted): its games' states are then another
# run's, and every script below treats them as lost, like a missing one. That check is
# atomic with the step it guards; it costs one INFO (about 9 us of Redis time) per call.

# Decide a batch of plays of one game in one atomic step: the rules of
# frolic/engine/step.py, line for line (the contract test holds them equal).
#   KEYS[1]                  pacing:game:{g}                            (hash)
#   KEYS[1+j], j=1..nb       budget:game:{g}:brand:<brands[j]>          (integer)
#   KEYS[1+nb+b], b=1..np    processed:game:{g}:<hour>    (hash playId ->
#                            "<brand>:<seq>:<p>:<cap>:<slot_cap>", as judged; "<brand>" for
#                            an outcome a rebuild restored from the ledger)
#   ARGV[1]                  nb, the number of brands
#   ARGV[1+j]                brands[j], the brand ids in KEYS order
#   ARGV[nb+2..nb+5]         np, forecast alpha, void (0|1), n plays
#   ARGV[nb+6..]             np TTLs of the processed hashes
#   then per play, 7 each:   playId, processed index b, slot, cap, slot_cap ('' for
#                            none), brand_draw ('' unless the play wants to win: it is
#                            the want flag too), p
#   returns {state, outcomes, priors}:
#     state    {consumed, awarded, slot, slot_awarded, slot_cap, slot_plays, forecast,
#               plays, line_t, line_from, remaining, epoch} as strings ('' for none); the
#               line's anchor is TOP_UP's, read and returned unchanged
#     outcomes the brand won per play, 0 for a loss
#     priors   for each play decided before (a replay: its stored outcome returned), its
#              index i and what the processed hash holds of it (its seq, p and caps);
#              a new play's seq is its place among the batch's new plays, counted back
#              from the state's 'plays': each new play adds one, in order
#   or {} when the pacing hash has no epoch, or was loaded under another Redis run: the
#   game is not loaded (Redis lost it, or came back with an older state of it), and
#   nothing is decided or written. A missing stock key must never read as "no stock".
#   A batch holds at most MAX_BATCH plays (Lua's unpack() limit).
DECIDE_BATCH = """
local nb = tonumber(ARGV[1])
local brands = {}
for j = 1, nb do brands[j] = ARGV[1 + j] end
local base = 1 + nb
local np = tonumber(ARGV[base + 1])
local alpha = tonumber(ARGV[base + 2])
local void = ARGV[base + 3] == '1'
local n = tonumber(ARGV[base + 4])
local ttl = base + 4
local first = ttl + np + 1
local pkey = 1 + nb

local st = redis.call('HMGET', KEYS[1], 'consumed', 'awarded', 'slot', 'slot_awarded',
                      'slot_cap', 'slot_plays', 'forecast', 'plays', 'line_t', 'line_from',
                      'epoch', 'run')
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not st[11] or st[12] ~= run then return {} end
local consumed = tonumber(st[1]) or 0
local awarded = tonumber(st[2]) or 0
local slot = tonumber(st[3])
local slot_awarded = tonumber(st[4]) or 0
local slot_cap = tonumber(st[5]) or 1e300
local slot_plays = tonumber(st[6]) or 0
local forecast = tonumber(st[7])
local plays = tonumber(st[8]) or 0

local stock, total = {}, 0
for j = 1, nb do
    local left = tonumber(redis.call('GET', KEYS[1 + j]) or '0')
    stock[j] = left
    if left > 0 then total = total + left end
end

-- What is decided already: one HMGET per processed hash.
local asked = {}
for b = 1, np do asked[b] = {} end
for i = 1, n do
    local a = first + (i - 1) * 7
    local list = asked[tonumber(ARGV[a + 1])]
    list[#list + 1] = ARGV[a]
end
local known = {}
for b = 1, np do
    local list = asked[b]
    if #list > 0 then
        local found = redis.call('HMGET', KEYS[pkey + b], unpack(list))
        for x = 1, #list do
            if found[x] then known[list[x]] = found[x] end
        end
    end
end

local new_processed = {}
for b = 1, np do new_processed[b] = {} end
local outcomes, priors = {}, {}
for i = 1, n do
    local a = first + (i - 1) * 7
    local id = ARGV[a]
    local prior = known[id]
    if prior then
        outcomes[i] = tonumber(string.match(prior, '^(%-?%d+)'))
        priors[#priors + 1] = i
        priors[#priors + 1] = prior
    else
        local k = tonumber(ARGV[a + 2])
        if slot == nil or k > slot then
            if slot ~= nil then
                if forecast == nil then
                    forecast = slot_plays
                else
                    forecast = (1 - alpha) * forecast + alpha * slot_plays
                end
                forecast = forecast * (1 - alpha) ^ (k - slot - 1)
            end
            slot, slot_awarded, slot_plays = k, 0, 0
            slot_cap = tonumber(ARGV[a + 4]) or 1e300
        end
        slot_plays = slot_plays + 1
        plays = plays + 1
        local brand = 0
        local cap = tonumber(ARGV[a + 3]) or 1e300
        if ARGV[a + 5] ~= '' and consumed < cap and slot_awarded < slot_cap and total > 0 then
            local target = math.min(math.floor(tonumber(ARGV[a + 5]) * total), total - 1)
            for j = 1, nb do
                if stock[j] > 0 then
                    if target < stock[j] then
                        brand = j
                        break
                    end
                    target = target - stock[j]
                end
            end
            redis.call('DECR', KEYS[1 + brand])
            stock[brand] = stock[brand] - 1
            total = total - 1
            brand = tonumber(brands[brand])
            awarded = awarded + 1
            slot_awarded = slot_awarded + 1
            if void then
                consumed = math.max(consumed + 1, math.floor(cap))
            else
                consumed = consumed + 1
            end
        end
        outcomes[i] = brand
        local stored = brand .. ':' .. plays .. ':' .. ARGV[a + 6] .. ':' .. ARGV[a + 3] .. ':'
                       .. ARGV[a + 4]
        known[id] = stored
        local p = new_processed[tonumber(ARGV[a + 1])]
        p[#p + 1] = id
        p[#p + 1] = stored
    end
end

for b = 1, np do
    if #new_processed[b] > 0 then
        redis.call('HSET', KEYS[pkey + b], unpack(new_processed[b]))
        redis.call('EXPIRE', KEYS[pkey + b], ARGV[ttl + b])
    end
end

local function num(x)
    if x == nil then return '' end
    return string.format('%.17g', x)
end
redis.call('HSET', KEYS[1], 'consumed', consumed, 'awarded', awarded,
           'slot_awarded', slot_awarded, 'slot_cap', num(slot_cap),
           'slot_plays', slot_plays, 'plays', plays)
if slot ~= nil then redis.call('HSET', KEYS[1], 'slot', slot) end
if forecast ~= nil then redis.call('HSET', KEYS[1], 'forecast', num(forecast)) end
return {{num(consumed), num(awarded), num(slot), num(slot_awarded), num(slot_cap),
         num(slot_plays), num(forecast), num(plays), st[9] or '', st[10] or '', num(total),
         st[11]}, outcomes, priors}
"""
MAX_BATCH = 1000

# Load a game: set every brand's stock and start its pacing state afresh, atomically.
# The top-ups applied stay recorded (a retried top-up must still find its operation).
#   KEYS[1]          pacing:game:{g}
#   KEYS[1+j]        budget:game:{g}:brand:<brand j>
#   ARGV[1], ARGV[2] the pacing line's anchor line_t, line_from (step.line_at_load),
#                    or '' and '' for none (loaded before the game's start)
#   ARGV[3]          the epoch: the pacing hash's 'epoch' field marks the game loaded
#                    (with its 'run': this Redis run, see above)
#   ARGV[3+j]        stock of brand j
#   returns          the total stock loaded
LOAD_GAME = """
redis.call('DEL', KEYS[1])
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'run', run)
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'line_t', ARGV[1], 'line_from', ARGV[2]) end
local total = 0
for j = 1, #KEYS - 1 do
    redis.call('SET', KEYS[1 + j], ARGV[3 + j])
    total = total + tonumber(ARGV[3 + j])
end
return total
"""

# Restore a game after Redis lost it, from the ledger: stock, the pacing counters and the
# line's anchor, under a new epoch, which marks it loaded again. The outcomes already
# decided go back into the processed hashes before this (``_RedisStore.restore``): while
# the epoch is missing nothing is decided.
#   KEYS[1]          pacing:game:{g}
#   KEYS[1+j]        budget:game:{g}:brand:<brand j>
#   ARGV[1]          awarded (and consumed)
#   ARGV[2], ARGV[3] the pacing line's anchor line_t, line_from ('' and '' for none)
#   ARGV[4]          the epoch (with its 'run': this Redis run, see above)
#   ARGV[4+j]        stock of brand j
#   returns          the total stock restored
RESTORE_GAME = """
redis.call('DEL', KEYS[1])
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
redis.call('HSET', KEYS[1], 'consumed', ARGV[1], 'awarded', ARGV[1], 'epoch', ARGV[4],
           'run', run)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'line_t', ARGV[2], 'line_from', ARGV[3]) end
local total = 0
for j = 1, #KEYS - 1 do
    redis.call('SET', KEYS[1 + j], ARGV[4 + j])
    total = total + tonumber(ARGV[4 + j])
end
return total
"""

# Top up one brand of a game, once per operation id: its stock grows by the coupons added,
# and the pacing line is re-anchored at its value now (step.line_after_top_up, the same
# arithmetic in the same order), all in one atomic step.
#   KEYS[1]          pacing:game:{g}
#   KEYS[2]          top_ups:game:{g}     (hash operation id -> "<coupons>:<epoch>:<plays>":
#                    where it falls in the decision order, after the decision whose seq
#                    is <plays> of <epoch>; the decision log places it there)
#   KEYS[2+j]        budget:game:{g}:brand:<brand j>, every brand of the game
#   ARGV[1]          the operation id
#   ARGV[2]          j, the index of the brand topped up in KEYS
#   ARGV[3]          coupons to add (> 0)
#   ARGV[4..6]       the game's start and end, and now (epoch seconds)
#   returns          1 if applied, 0 if this operation id was applied before (no change),
#                    -1 if the game is not loaded (no epoch, or another run's: Redis lost
#                    it or came back older; no change)
TOP_UP = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local st = redis.call('HMGET', KEYS[1], 'awarded', 'line_t', 'line_from', 'epoch', 'run',
                      'plays')
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not st[4] or st[5] ~= run then return -1 end
local start, finish, t = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local origin = tonumber(st[2]) or start
local from = tonumber(st[3]) or 0
local total = tonumber(st[1]) or 0
for j = 3, #KEYS do
    local left = tonumber(redis.call('GET', KEYS[j]) or '0')
    if left > 0 then total = total + left end
end
t = math.min(math.max(t, origin), finish)
if finish <= origin then
    from = total
else
    from = from + (total - from) * ((t - origin) / (finish - origin))
end
redis.call('HSET', KEYS[1], 'line_t', string.format('%.17g', t),
           'line_from', string.format('%.17g', from))
redis.call('INCRBY', KEYS[2 + tonumber(ARGV[2])], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. ':' .. st[4] .. ':' .. (st[6] or '0'))
return 1
"""

# Resume a paused game: re-anchor the pacing line at the coupons awarded so far, at now
# (step.line_at_resume: now clamped to the line's span), in one atomic step. Harmless
# to repeat: a retry anchors again, at what is awarded by then.
#   KEYS[1]          pacing:game:{g}
#   ARGV[1..3]       the game's start and end, and now (epoch seconds)
#   returns          {line_t, line_from} as written, or {} if the game is not loaded (no
#                    epoch, or another run's: Redis lost it or came back older; no change)
RESUME = """
local st = redis.call('HMGET', KEYS[1], 'awarded', 'line_t', 'epoch', 'run')
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not st[3] or st[4] ~= run then return {} end
local start, finish, t = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local origin = tonumber(st[2]) or start
t = math.min(math.max(t, origin), finish)
local line_t, line_from = string.format('%.17g', t), string.format('%.17g', tonumber(st[1]) or 0)
redis.call('HSET', KEYS[1], 'line_t', line_t, 'line_from', line_from)
return {line_t, line_from}
"""

# The epoch of a game's state in Redis, if Redis holds it from this run: what a rebuild
# compares with the game's row, under its lock.
#   KEYS[1]          pacing:game:{g}
#   returns          the epoch, or nil if the game is missing or was loaded under another
#                    Redis run (see above)
LOADED_EPOCH = """
local st = redis.call('HMGET', KEYS[1], 'epoch', 'run')
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not st[1] or st[2] ~= run then return nil end
return st[1]
"""
