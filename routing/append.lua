-- append: store one message in a conversation, and every step it triggers, in one atomic step:
-- the seeker's first message queues the conversation (escalated at once when no peer is on
-- shift), and a seeker's text that matched the risk list escalates it. So a retry with the same
-- client_id (after a timeout, an 'unavailable', a Twilio webhook retry) finds everything done or
-- nothing done: a partial first attempt cannot make the retry skip a step.
-- KEYS: none (built from the prefix, see _lib.lua)
-- ARGV: 1 prefix, 2 conv, 3 sender (seeker|peer|system), 4 client_id ('' for none), 5 text,
--       6 at (ISO 8601), 7 now_ms, 8 acting peer ('' unless sender is peer), 9 wait_escalate_ms,
--       10 risk ('1' when the text matched the risk list), 11 an offer id ('' for none),
--       12 offer timeout ms, 13 once TTL seconds: when > 0, client_id is unique across
--       conversations (an SMS MessageSid) and is remembered that long under P:once:<client_id>,
--       checked first
-- A conversation created with an idle time (field idle_ms, asked for by its channel) ends after
-- that long with no message: each message restarts its 'idle' timer.
-- Returns: {'ok', seq, escalated[, accepted]} | {'dup', seq} |
--          {'queued', seq, peers_on_shift, escalated} |
--          {'err', code}; escalated: the reasons escalated by this call, comma-separated;
--          accepted: on a peer's first message, when it accepted (ms), else ''
local conv, sender, cid, text, at = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now_ms, actor, wait_ms = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local f = msg_fields(conv)
local state, events, idle_ms = f[1], f[3] or '', tonumber(f[4]) or 0
if not state then return {'err', 'unknown'} end
local once_ttl = tonumber(ARGV[13]) or 0
if cid ~= '' then
  -- Checked before the state: a retried send of a stored message gets its ack even after the end.
  local seen = redis.call('HGET', K.cids(conv), cid)
  if not seen and once_ttl > 0 then
    seen = redis.call('GET', K.once(cid))
    if seen then seen = string.match(seen, '|(%d+)$') end
  end
  if seen then return {'dup', tonumber(seen)} end
end
if state == 'ended' then return {'err', 'ended'} end
if sender == 'peer' and (state ~= 'active' or f[2] ~= actor) then
  return {'err', 'not_allowed'}
end
local seq = append_msg(conv, sender, text, at, f)
if cid ~= '' then
  redis.call('HSET', K.cids(conv), cid, seq)
  if once_ttl > 0 then redis.call('SET', K.once(cid), conv .. '|' .. seq, 'EX', once_ttl) end
end
redis.call('HINCRBY', K.stats, 'messages_' .. sender, 1)
redis.call('HSET', K.conv(conv), 'last', now_ms, 'last_' .. sender, now_ms)
local accepted = ''  -- a peer's first message: when its peer accepted (for the first_reply histogram)
if sender == 'peer' then
  clear_first_reply_timers(conv)
  if redis.call('HSETNX', K.conv(conv), 'first_reply', now_ms) == 1 then
    accepted = redis.call('HGET', K.conv(conv), 'accepted') or ''
  end
end
if idle_ms > 0 then redis.call('ZADD', K.timers, now_ms + idle_ms, 'idle|' .. conv) end
if state == 'new' and sender == 'seeker' then
  -- Risk from this text, or from before it (a check-in that said "not safe"): the risk band.
  local band = (ARGV[10] == '1' or redis.call('HGET', K.conv(conv), 'risk') == '1') and 0 or 2
  queue_conv(conv, now_ms, band, wait_ms, events)
  -- Pair at once when a peer has room: one offer here, by the matcher's own rules (the queue
  -- head first); the worker, woken, makes any further offers and keeps the timers.
  if ARGV[11] ~= '' then match_pass(now_ms, tonumber(ARGV[12]), MATCH_SCAN_LIMIT, {ARGV[11]}, 1) end
  wake()
  local on_shift = redis.call('SCARD', K.on_shift)
  local escalated = {}
  if on_shift == 0 and not escalate_conv(conv, 'no_peer_on_shift', now_ms, false) then
    escalated[#escalated + 1] = 'no_peer_on_shift'
  end
  if ARGV[10] == '1' and not escalate_conv(conv, 'risk', now_ms, false) then escalated[#escalated + 1] = 'risk' end
  return {'queued', seq, on_shift, table.concat(escalated, ',')}
end
if sender == 'seeker' and ARGV[10] == '1' and not escalate_conv(conv, 'risk', now_ms, false) then
  return {'ok', seq, 'risk'}
end
return {'ok', seq, '', accepted}
