-- accept: a peer takes the conversation it was offered. At most one peer ever gets it.
-- KEYS: none. ARGV: 1 prefix, 2 offer_id, 3 peer, 4 now_ms, 5 at, 6 joined text (en), 7 (fr)
-- Returns: {'ok', conv} | {'err', 'offer_gone'}
local offer_id, user, now_ms, at = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local o = redis.call('HMGET', K.offer(offer_id), 'conv', 'peer')
-- Someone else's offer answers like an expired one: nothing about it leaks.
if not o[1] or o[2] ~= user then return {'err', 'offer_gone'} end
local conv = o[1]
drop_offer(offer_id, false)
if redis.call('HGET', K.conv(conv), 'state') ~= 'waiting' then return {'err', 'offer_gone'} end
local display = redis.call('HGET', K.peer(user), 'display') or user
local lang = redis.call('HGET', K.conv(conv), 'lang')
redis.call('ZREM', K.queue, conv)
-- For wait estimates (routing/estimate.py): when, and with how many peers on shift.
redis.call('LPUSH', K.accepts, now_ms .. '|' .. redis.call('SCARD', K.on_shift))
redis.call('LTRIM', K.accepts, 0, 99)
redis.call('ZREM', K.timers, 'wait|' .. conv, 'lang|' .. conv)
-- Written before the peer is set, so the peer gets it once, in the history below.
append_msg(conv, 'system', (lang == 'fr') and ARGV[7] or ARGV[6], at)
redis.call('HSET', K.conv(conv), 'state', 'active', 'peer', user, 'peer_name', display)
redis.call('HSETNX', K.conv(conv), 'accepted', now_ms)
redis.call('HSET', K.conv(conv), 'assigned_at', now_ms)
first_reply_timers(conv, now_ms)
redis.call('SADD', K.peer_convs(user), conv)
redis.call('HINCRBY', K.peer(user), 'active', 1)
redis.call('HSET', K.peer(user), 'missed', 0)
to_seeker(conv, 0, cjson.encode({type = 'status', state = 'active', peer = display}))
to_peer(user, conv, 0, assigned_frame(conv))
publish_shift(user)
queue_changed()
return {'ok', conv}
