-- Give up on the head message: drop it (and its phone number), mark the receipt failed.
-- KEYS[1..4] see outbox_lib.lua; KEYS[5] job hash; KEYS[6] receipt hash
-- ARGV[1] conversation id, ARGV[2] seq, ARGV[3] token, ARGV[4] now, ARGV[5] error code
-- Returns 'failed', 'stale' (job already gone; released) or 'lost' (lease not ours).
if not holds(ARGV[3]) then
  return 'lost'
end
local existed = redis.call('DEL', KEYS[5])
redis.call('LREM', KEYS[4], 1, ARGV[2])
release(ARGV[4])
if existed == 0 then
  return 'stale'
end
redis.call('HSET', KEYS[6], 'state', 'failed', 'final', 'failed', 'code', ARGV[5])
return 'failed'
