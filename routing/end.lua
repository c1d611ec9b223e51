-- end: the conversation ends, whoever ends it; everything it held is let go in one step.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 by (seeker|peer|system), 4 acting peer, 5 outcome,
--       6 now_ms, 7 debrief_ms, 8 archive_at_ms, 9 only if no seeker socket is attached ('1'/'0')
-- The archive waits archive_delay_ms more when the channel asked for it at creation (the SMS
-- bridge still needs the number for the closing text).
-- Returns: {'ok', peer, previous state} | {'err', 'unknown'|'ended'|'not_allowed'|'attached'}
local conv, by, actor, outcome = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now_ms, debrief_ms = tonumber(ARGV[6]), tonumber(ARGV[7])
local state = redis.call('HGET', K.conv(conv), 'state')
if not state then return {'err', 'unknown'} end
if state == 'ended' then return {'err', 'ended'} end
local peer = redis.call('HGET', K.conv(conv), 'peer') or ''
if by == 'peer' and (state ~= 'active' or peer ~= actor) then return {'err', 'not_allowed'} end
-- The grace timer raced a resume: the seeker came back, so nothing ends.
if ARGV[9] == '1' and redis.call('HLEN', K.conns('seeker', conv)) > 0 then return {'err', 'attached'} end
local offer = redis.call('HGET', K.conv(conv), 'offer')
if offer and offer ~= '' then drop_offer(offer, true) end
redis.call('ZREM', K.queue, conv)
redis.call('ZREM', K.timers, 'wait|' .. conv, 'sgrace|' .. conv, 'idle|' .. conv, 'smsidle|' .. conv, 'lang|' .. conv)
clear_first_reply_timers(conv)
redis.call('SREM', K.live, conv)
local c = redis.call('HMGET', K.conv(conv), 'risk', 'escalated')
if state == 'active' and peer ~= '' then
  redis.call('SREM', K.peer_convs(peer), conv)
  redis.call('HINCRBY', K.peer(peer), 'active', -1)
  redis.call('HSET', K.peer(peer), 'idle_since', now_ms)
  if (c[1] == '1' or (c[2] and c[2] ~= '')) and debrief_ms > 0 then
    local until_ms = now_ms + debrief_ms
    redis.call('HSET', K.peer(peer), 'debrief_until', until_ms)
    redis.call('ZADD', K.timers, until_ms, 'debrief|' .. peer)
  end
  to_peer(peer, conv, 0, cjson.encode({type = 'ended', conversation = conv, by = by}))
  publish_shift(peer)
end
redis.call('HSET', K.conv(conv), 'state', 'ended', 'ended', now_ms, 'ended_by', by, 'outcome', outcome)
to_seeker(conv, 0, cjson.encode({type = 'ended', by = by}))
to_monitors(conv, 0, cjson.encode({type = 'ended', conversation = conv, by = by}))
local archive_at = tonumber(ARGV[8]) + num(redis.call('HGET', K.conv(conv), 'archive_delay_ms'))
redis.call('ZADD', K.timers, archive_at, 'archive|' .. conv)
queue_changed()
wake()
return {'ok', peer, state}
