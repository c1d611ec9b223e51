-- escalate: record an escalation, tell the seeker (crisis line), alert supervisors, tell the
-- assigned peer. Risk also moves a queued conversation to the front. An escalated
-- conversation stays in the queue.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 reason, 4 now_ms, 5 seeker frame (JSON),
--       6 only while queued ('1' for wait_timeout)
-- Returns: {'ok'} | {'err', 'unknown'|'ended'|'not_queued'|'dup'}
local conv, reason, now_ms = ARGV[2], ARGV[3], tonumber(ARGV[4])
local c = redis.call('HMGET', K.conv(conv), 'state', 'escalated', 'peer', 'queued', 'channel')
local state = c[1]
if not state then return {'err', 'unknown'} end
if state == 'ended' then return {'err', 'ended'} end
local queued = (state == 'waiting' or state == 'offered')
if ARGV[6] == '1' and not queued then return {'err', 'not_queued'} end
local escalated = c[2] or ''
-- Automatic reasons fire once per conversation; a peer may escalate as often as needed.
if reason ~= 'peer' and string.find(',' .. escalated .. ',', ',' .. reason .. ',', 1, true) then
  return {'err', 'dup'}
end
redis.call('RPUSH', K.esc(conv), reason .. '|' .. now_ms)
redis.call('HSET', K.conv(conv), 'escalated', (escalated == '') and reason or (escalated .. ',' .. reason))
if reason == 'risk' then
  redis.call('HSET', K.conv(conv), 'risk', '1')
  if queued then
    redis.call('HSET', K.conv(conv), 'band', 0)
    redis.call('ZADD', K.queue, 'XX', score(0, num(c[4])), conv)
  end
end
to_seeker(conv, 0, ARGV[5])
local alert = cjson.encode({type = 'alert', conversation = conv, reason = reason, channel = c[5],
                            state = state, peer = (c[3] and c[3] ~= '') and c[3] or cjson.null})
redis.call('PUBLISH', K.ch_sup, envelope(0, conv, alert))
to_monitors(conv, 0, cjson.encode({type = 'escalation', conversation = conv, reason = reason}))
if state == 'active' and c[3] and c[3] ~= '' then
  to_peer(c[3], conv, 0, cjson.encode({type = 'escalation', conversation = conv, reason = reason}))
end
queue_changed()
return {'ok'}
