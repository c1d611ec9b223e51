-- Shared prelude of the outbox scripts: sms/outbox.py prepends it to each of them.
-- Every outbox script is called with the same first four keys:
--   KEYS[1] ready zset, KEYS[2] inflight zset, KEYS[3] lease hash, KEYS[4] conversation list
-- and ARGV[1] the conversation id.

-- Whether the conversation's lease is held by this token.
local function holds(token)
  return redis.call('HGET', KEYS[3], ARGV[1]) == token
end

-- Take the conversation off the worker; back onto ready at `due` if messages remain.
-- Doing both in one step is what keeps a message enqueued meanwhile from being stranded:
-- enqueue leaves an in-flight conversation off ready, trusting this to put it back.
local function release(due)
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  if redis.call('LLEN', KEYS[4]) > 0 then
    redis.call('ZADD', KEYS[1], due, ARGV[1])
  end
end
