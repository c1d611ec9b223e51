-- Queue one peer message, with its delivery receipt, unless it is a repeat or the
-- conversation's backlog is full.
-- KEYS[1..4] see outbox_lib.lua; KEYS[5] job hash; KEYS[6] receipt hash
-- ARGV[1] conversation id, ARGV[2] seq, ARGV[3] to (E.164), ARGV[4] parts (JSON list),
-- ARGV[5] number of parts, ARGV[6] now (epoch s), ARGV[7] max waiting messages,
-- ARGV[8] TTL of job and receipt (ms)
-- Returns 'queued', 'duplicate' (this seq was queued before) or 'full'.
if redis.call('EXISTS', KEYS[6]) == 1 then
  return 'duplicate'
end
if redis.call('LLEN', KEYS[4]) >= tonumber(ARGV[7]) then
  return 'full'
end
redis.call('HSET', KEYS[5], 'to', ARGV[3], 'parts', ARGV[4], 'count', ARGV[5], 'next', 0, 'attempts', 0)
redis.call('PEXPIRE', KEYS[5], ARGV[8])
redis.call('HSET', KEYS[6], 'parts', ARGV[5], 'state', 'queued', 'delivered', 0)
redis.call('PEXPIRE', KEYS[6], ARGV[8])
redis.call('RPUSH', KEYS[4], ARGV[2])
-- A conversation a worker holds is put back on ready by its release; one already on
-- ready keeps its (possibly backed-off) due time so a retry is not hurried.
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
end
return 'queued'
