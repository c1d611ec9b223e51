-- Record that part ARGV[3] of a message was accepted by Twilio as ARGV[4].
-- KEYS[1..4] see outbox_lib.lua; KEYS[5] job hash; KEYS[6] receipt hash; KEYS[7] sid hash
-- ARGV[1] conversation id, ARGV[2] seq, ARGV[3] part index, ARGV[4] MessageSid,
-- ARGV[5] now, ARGV[6] token, ARGV[7] renewed lease deadline, ARGV[8] receipt/sid TTL (ms)
-- Returns 'more' (parts remain; lease renewed), 'done' (message sent, conversation
-- released), 'done_delivered' (and every part's delivery was already reported),
-- 'stale' (the job was cancelled or moved on; released) or 'lost' (lease not ours).
if not holds(ARGV[6]) then
  return 'lost'
end
local nxt = redis.call('HGET', KEYS[5], 'next')
if not nxt or tonumber(nxt) ~= tonumber(ARGV[3]) then
  release(ARGV[5])
  return 'stale'
end
redis.call('HSET', KEYS[7], 'conv', ARGV[1], 'seq', ARGV[2])
redis.call('PEXPIRE', KEYS[7], ARGV[8])
local sent = tonumber(ARGV[3]) + 1
if sent < tonumber(redis.call('HGET', KEYS[5], 'count')) then
  redis.call('HSET', KEYS[5], 'next', sent, 'attempts', 0)
  redis.call('HDEL', KEYS[5], 'failing_since', 'last_code')
  redis.call('ZADD', KEYS[2], 'XX', ARGV[7], ARGV[1])
  return 'more'
end
redis.call('DEL', KEYS[5])
redis.call('LREM', KEYS[4], 1, ARGV[2])
release(ARGV[5])
redis.call('HSET', KEYS[6], 'state', 'sent')
redis.call('PEXPIRE', KEYS[6], ARGV[8])
-- A fast status callback may have counted every part delivered before this ran.
if tonumber(redis.call('HGET', KEYS[6], 'delivered') or '0') >= sent
    and not redis.call('HGET', KEYS[6], 'final') then
  redis.call('HSET', KEYS[6], 'state', 'delivered', 'final', 'delivered')
  return 'done_delivered'
end
return 'done'
