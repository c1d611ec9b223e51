-- lease: the worker lease. One `chatd worker` works at a time (timers, matching, the SMS
-- consumer); any other waits as a standby and takes over when the lease is released (a
-- stopped worker) or lapses (a killed or cut-off one). routing/worker.py holds and renews it.
-- KEYS: none. ARGV: 1 prefix, 2 action (take|renew|release), 3 the worker's token, 4 lease ms
-- Returns: 1 when the token holds the lease after take/renew, or released it; else 0.
local action, token, ms = ARGV[2], ARGV[3], ARGV[4]
local holder = redis.call('GET', K.worker)
if action == 'take' then
  if holder and holder ~= token then return 0 end
  redis.call('SET', K.worker, token, 'PX', ms)
  return 1
end
if holder ~= token then return 0 end
if action == 'renew' then
  redis.call('PEXPIRE', K.worker, ms)
else
  redis.call('DEL', K.worker)
end
return 1
