-- Take the send turn of a sending number if it is free, shared by every worker process:
-- a send may start only 1/rate after the previous one started. Taking the turn at the
-- moment of sending (not booking a future slot) keeps the spacing even when a worker
-- wakes late.
-- KEYS[1] pace key of the number
-- ARGV[1] interval between sends (s), ARGV[2] key TTL (ms)
-- Returns '' when the turn is taken (send now), else the seconds to wait, as a string.
-- Time is Redis's own clock, so workers on different hosts agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local free_at = tonumber(redis.call('GET', KEYS[1]) or '0')
if free_at > now then
  return tostring(free_at - now)
end
redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[1])), 'PX', ARGV[2])
return ''
