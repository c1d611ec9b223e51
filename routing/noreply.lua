-- noreply: a peer accepted a conversation and has not written to it yet (CHATD_FIRST_REPLY_S).
-- Stage 'nudge' (after once that time): the peer's consoles get a `nudge` frame. Stage 'alert'
-- (after twice that): supervisors on shift get an `alert` with reason 'no_first_reply' (not an
-- escalation: nothing is recorded as one, the seeker is not given the crisis line), and the
-- seeker a system message, in their language, that a peer is there and will write soon.
-- Each stage checks first that the same assignment still stands unanswered, so a timer that
-- fires late (a worker restart) or twice does nothing wrong.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 stage (nudge|alert), 4 now_ms, 5 at (ISO 8601)
-- Returns: {'ok'} | {'skip'} (no longer applies)
local conv, stage, now_ms, at = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local c = redis.call('HMGET', K.conv(conv), 'state', 'peer', 'assigned_at', 'last_peer', 'channel', 'lang',
                     'noreply_alerted')
if c[1] ~= 'active' or not c[2] or c[2] == '' then return {'skip'} end
local assigned = num(c[3])
if num(c[4]) >= assigned then return {'skip'} end  -- the peer wrote since it took the conversation
local waited_s = math.max(0, math.floor((now_ms - assigned) / 1000))
if stage == 'nudge' then
  to_peer(c[2], conv, 0, cjson.encode({type = 'nudge', conversation = conv, waited_s = waited_s}))
  return {'ok'}
end
if c[7] == tostring(assigned) then return {'skip'} end  -- this assignment was alerted already
redis.call('HSET', K.conv(conv), 'noreply_alerted', assigned)
redis.call('HINCRBY', K.stats, 'alerts_no_first_reply', 1)
local alert = cjson.encode({type = 'alert', conversation = conv, reason = 'no_first_reply', channel = c[5],
                            state = c[1], peer = c[2]})
redis.call('PUBLISH', K.ch_sup, envelope(0, conv, alert))
local texts = (CONST.texts or {}).peer_soon or {}
append_msg(conv, 'system', texts[c[6] or 'en'] or texts.en or '', at)
return {'ok'}
