-- Hand the longest-due conversation to a worker, after returning expired leases (a
-- worker that crashed or hung) to ready so their messages are sent again.
-- KEYS[1] ready zset, KEYS[2] inflight zset, KEYS[3] lease hash
-- ARGV[1] now (epoch s), ARGV[2] lease deadline, ARGV[3] worker token
-- Returns {conversation id, '', ''} when one was claimed, else
-- {'', next ready score or '', next lease deadline or ''}.
local now = ARGV[1]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, conv in ipairs(expired) do
  redis.call('ZREM', KEYS[2], conv)
  redis.call('HDEL', KEYS[3], conv)
  redis.call('ZADD', KEYS[1], now, conv)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then
  local ready = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local leased = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'', ready[2] or '', leased[2] or ''}
end
local conv = due[1]
redis.call('ZREM', KEYS[1], conv)
redis.call('ZADD', KEYS[2], ARGV[2], conv)
redis.call('HSET', KEYS[3], conv, ARGV[3])
return {conv, '', ''}
