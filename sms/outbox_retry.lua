-- Schedule another attempt at the head message after a retryable failure.
-- KEYS[1..4] see outbox_lib.lua; KEYS[5] job hash
-- ARGV[1] conversation id, ARGV[2] token, ARGV[3] due time of the next attempt,
-- ARGV[4] now, ARGV[5] error code
-- Returns 'scheduled', 'stale' (job gone; released) or 'lost' (lease not ours).
if not holds(ARGV[2]) then
  return 'lost'
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  release(ARGV[4])
  return 'stale'
end
redis.call('HSETNX', KEYS[5], 'failing_since', ARGV[4])
redis.call('HINCRBY', KEYS[5], 'attempts', 1)
redis.call('HSET', KEYS[5], 'last_code', ARGV[5])
release(ARGV[3])
return 'scheduled'
