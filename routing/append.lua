-- append: store one message in a conversation; the seeker's first message queues it.
-- KEYS: none (built from the prefix, see _lib.lua)
-- ARGV: 1 prefix, 2 conv, 3 sender (seeker|peer|system), 4 client_id ('' for none), 5 text,
--       6 at (ISO 8601), 7 now_ms, 8 acting peer ('' unless sender is peer), 9 wait_escalate_ms,
--       10 risk ('1' when the text matched the risk list), 11 SMS idle ms (restarts an SMS
--       conversation's idle timer), 12 an offer id ('' for none), 13 offer timeout ms
-- Returns: {'ok', seq} | {'dup', seq} | {'queued', seq, peers_on_shift} | {'err', code}
local conv, sender, cid, text, at = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now_ms, actor, wait_ms = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local f = msg_fields(conv)
local state, channel = f[1], f[3] or ''
if not state then return {'err', 'unknown'} end
if cid ~= '' then
  -- Checked before the state: a retried send of a stored message gets its ack even after the end.
  local seen = redis.call('HGET', K.cids(conv), cid)
  if seen then return {'dup', tonumber(seen)} end
end
if state == 'ended' then return {'err', 'ended'} end
if sender == 'peer' and (state ~= 'active' or f[2] ~= actor) then
  return {'err', 'not_allowed'}
end
local seq = append_msg(conv, sender, text, at, f)
if cid ~= '' then redis.call('HSET', K.cids(conv), cid, seq) end
redis.call('HINCRBY', K.stats, 'messages_' .. sender, 1)
redis.call('HSET', K.conv(conv), 'last', now_ms)
if channel == 'sms' then
  redis.call('ZADD', K.timers, now_ms + tonumber(ARGV[11]), 'smsidle|' .. conv)
end
if state == 'new' and sender == 'seeker' then
  local band = (ARGV[10] == '1') and 0 or 2
  redis.call('HSET', K.conv(conv), 'state', 'waiting', 'queued', now_ms, 'first_queued', now_ms, 'band', band)
  if band == 0 then redis.call('HSET', K.conv(conv), 'risk', '1') end
  redis.call('ZADD', K.queue, score(band, now_ms), conv)
  redis.call('ZADD', K.timers, now_ms + wait_ms, 'wait|' .. conv)
  to_seeker(conv, 0, waiting_status(conv), channel)
  queue_changed()
  -- Pair at once when a peer has room: one offer here, by the matcher's own rules (the queue
  -- head first); the worker, woken, makes any further offers and keeps the timers.
  if ARGV[12] ~= '' then match_pass(now_ms, tonumber(ARGV[13]), MATCH_SCAN_LIMIT, {ARGV[12]}, 1) end
  wake()
  return {'queued', seq, redis.call('SCARD', K.on_shift)}
end
return {'ok', seq}
