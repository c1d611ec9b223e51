-- shift: a peer's shift state machine, off -> on <-> break -> off. Start also ends a break and a
-- debrief pause, and sets the capacity. Break and end give pending offers back at once.
-- KEYS: none. ARGV: 1 prefix, 2 peer, 3 action (start|break|end), 4 capacity, 5 now_ms,
--       6 display name, 7 role, 8 the languages it takes chats in ("en,fr"; language-first
--       matching in _lib.lua reads them)
-- Returns: {'ok', from, to} | {'err', 'bad_transition', from}
local user, action = ARGV[2], ARGV[3]
local now_ms = tonumber(ARGV[5])
local cur = redis.call('HGET', K.peer(user), 'state') or 'off'
if (action == 'break' and cur ~= 'on') or (action == 'end' and cur == 'off') then
  return {'err', 'bad_transition', cur}
end
local target
if action == 'start' then
  target = 'on'
  redis.call('HSET', K.peer(user), 'state', 'on', 'capacity', tonumber(ARGV[4]), 'display', ARGV[6],
             'role', ARGV[7], 'missed', 0, 'debrief_until', 0, 'langs', ARGV[8] or '')
  redis.call('HSETNX', K.peer(user), 'idle_since', now_ms)
  redis.call('HSETNX', K.peer(user), 'active', 0)
  redis.call('HSETNX', K.peer(user), 'offers', 0)
  redis.call('ZREM', K.timers, 'debrief|' .. user)
  redis.call('SADD', K.on_shift, user)
  redis.call('SADD', K.shifting, user)
else
  target = (action == 'break') and 'break' or 'off'
  redis.call('HSET', K.peer(user), 'state', target)
  redis.call('SREM', K.on_shift, user)
  if target == 'off' then redis.call('SREM', K.shifting, user) end
  for _, offer_id in ipairs(redis.call('SMEMBERS', K.peer_offers(user))) do drop_offer(offer_id, true) end
end
publish_shift(user)
queue_changed()
wake()
return {'ok', cur, target}
