-- checkin: the seeker's optional check-in, before a peer has the conversation: "How are you
-- feeling right now?" (1..7) and "Are you safe right now?" (yes | no | not_sure). A "no" or
-- "not sure" is a risk match: escalation 'risk' (crisis line to the seeker, supervisors alerted)
-- and the front of the queue: a conversation not queued yet (no message so far) is queued now,
-- in the risk band, so a peer reaches out even if the seeker writes nothing (and, as for a first
-- message, escalated for no_peer_on_shift when no peer is on shift).
-- The offer and the assigned frame show the answers to the peer (offer_frame, assigned_frame).
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 feeling ('' or 1..7), 4 safe ('' or yes|no|not_sure), 5 now_ms,
--       6 wait_escalate_ms
-- Returns: {'ok', escalated (reasons, comma-separated)} | {'err', 'unknown'|'ended'|'not_allowed'}
local conv, feeling, safe, now_ms = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local state = redis.call('HGET', K.conv(conv), 'state')
if not state then return {'err', 'unknown'} end
if state == 'ended' then return {'err', 'ended'} end
if state == 'active' then return {'err', 'not_allowed'} end
if feeling ~= '' then redis.call('HSET', K.conv(conv), 'checkin_feeling', feeling) end
if safe ~= '' then redis.call('HSET', K.conv(conv), 'checkin_safe', safe) end
redis.call('HSET', K.conv(conv), 'checkin_at', now_ms)
if safe ~= 'no' and safe ~= 'not_sure' then return {'ok', ''} end
local escalated = {}
if state == 'new' then
  queue_conv(conv, now_ms, 0, tonumber(ARGV[6]), nil)
  wake()
  if redis.call('SCARD', K.on_shift) == 0 and not escalate_conv(conv, 'no_peer_on_shift', now_ms, false) then
    escalated[#escalated + 1] = 'no_peer_on_shift'
  end
end
if not escalate_conv(conv, 'risk', now_ms, false) then escalated[#escalated + 1] = 'risk' end
return {'ok', table.concat(escalated, ',')}
