-- escalate: escalate a conversation (a peer's escalation, the worker's wait timeout); the rules
-- are escalate_conv's in _lib.lua. An escalated conversation stays in the queue.
-- A peer's escalation (an acting peer given) is refused unless the conversation is active and
-- assigned to that peer (CONTRACT.md section 3: a peer acting on a conversation not assigned to
-- it gets not_allowed and nothing happens), checked here so that a conversation ended or
-- transferred since the peer sent it is not escalated in its name.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 reason, 4 now_ms, 5 only while queued ('1' for wait_timeout),
--       6 acting peer ('' for none: the worker)
-- Returns: {'ok'} | {'err', 'unknown'|'ended'|'not_allowed'|'not_queued'|'dup'}
local conv, actor = ARGV[2], ARGV[6] or ''
if actor ~= '' then
  local c = redis.call('HMGET', K.conv(conv), 'state', 'peer')
  if not c[1] then return {'err', 'unknown'} end
  if c[1] == 'ended' then return {'err', 'ended'} end
  if c[1] ~= 'active' or c[2] ~= actor then return {'err', 'not_allowed'} end
end
local why = escalate_conv(conv, ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1')
if why then return {'err', why} end
return {'ok'}
