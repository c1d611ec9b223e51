-- checkin: the seeker's optional check-in, before a peer has the conversation: "How are you
-- feeling right now?" (1..7) and "Are you safe right now?" (yes | no | not_sure). A "no" or
-- "not sure" is a risk match: escalation 'risk' (crisis line to the seeker, supervisors alerted,
-- front of the queue once queued; append.lua queues a conversation flagged so in the risk band).
-- The offer and the assigned frame show the answers to the peer (offer_frame, assigned_frame).
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 feeling ('' or 1..7), 4 safe ('' or yes|no|not_sure), 5 now_ms
-- Returns: {'ok', escalated ('risk' or '')} | {'err', 'unknown'|'ended'|'not_allowed'}
local conv, feeling, safe, now_ms = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local state = redis.call('HGET', K.conv(conv), 'state')
if not state then return {'err', 'unknown'} end
if state == 'ended' then return {'err', 'ended'} end
if state == 'active' then return {'err', 'not_allowed'} end
if feeling ~= '' then redis.call('HSET', K.conv(conv), 'checkin_feeling', feeling) end
if safe ~= '' then redis.call('HSET', K.conv(conv), 'checkin_safe', safe) end
redis.call('HSET', K.conv(conv), 'checkin_at', now_ms)
if (safe == 'no' or safe == 'not_sure') and not escalate_conv(conv, 'risk', now_ms, false) then
  return {'ok', 'risk'}
end
return {'ok', ''}
