-- Apply one Twilio status callback to a message's receipt, once per part and status.
-- KEYS[1] receipt hash
-- ARGV[1] MessageSid, ARGV[2] MessageStatus, ARGV[3] ErrorCode ('' if none)
-- Returns 'delivered' (the last part arrived), 'partial', 'failed', 'duplicate',
-- 'ignored' (an intermediate status) or 'unknown' (no such receipt, or it expired).
local receipt = KEYS[1]
if redis.call('EXISTS', receipt) == 0 then
  return 'unknown'
end
if redis.call('HGET', receipt, 'final') then
  return 'duplicate'
end
local status = ARGV[2]
if status == 'delivered' then
  if redis.call('HSETNX', receipt, 'd:' .. ARGV[1], 1) == 0 then
    return 'duplicate'
  end
  local delivered = redis.call('HINCRBY', receipt, 'delivered', 1)
  if redis.call('HGET', receipt, 'state') == 'sent'
      and delivered >= tonumber(redis.call('HGET', receipt, 'parts')) then
    redis.call('HSET', receipt, 'state', 'delivered', 'final', 'delivered')
    return 'delivered'
  end
  return 'partial'
end
if status == 'failed' or status == 'undelivered' then
  redis.call('HSET', receipt, 'state', 'failed', 'final', 'failed', 'code', ARGV[3])
  return 'failed'
end
return 'ignored'
