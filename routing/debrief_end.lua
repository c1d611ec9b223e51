-- debrief_end: a peer's debrief pause is over (timer) and offers may come again.
-- KEYS: none. ARGV: 1 prefix, 2 peer, 3 now_ms
-- Returns: {'ok'} | {'err', 'not_due'}
local user, now_ms = ARGV[2], tonumber(ARGV[3])
local until_ms = num(redis.call('HGET', K.peer(user), 'debrief_until'))
if until_ms > now_ms then return {'err', 'not_due'} end
redis.call('HSET', K.peer(user), 'debrief_until', 0)
publish_shift(user)
wake()
return {'ok'}
