-- match: one matching pass, planned and made in one atomic step (no plan can go stale).
-- KEYS: none. ARGV: 1 prefix, 2 now_ms, 3 offer timeout ms, 4 queue entries to look at,
--       5.. fresh offer ids, one per offer this pass may make
-- Returns: {offers made, 1 when it ran out of ids and another pass may make more}
local ids = {}
for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
local made, more = match_pass(tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ids, 1)
return {made, more}
