-- escalate: escalate a conversation (a peer's escalation, the worker's wait timeout); the rules
-- are escalate_conv's in _lib.lua. An escalated conversation stays in the queue.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 reason, 4 now_ms, 5 only while queued ('1' for wait_timeout)
-- Returns: {'ok'} | {'err', 'unknown'|'ended'|'not_queued'|'dup'}
local why = escalate_conv(ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1')
if why then return {'err', why} end
return {'ok'}
