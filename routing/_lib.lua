-- Shared helpers, prepended to every routing script when it is loaded (routing/scripts.py).
-- Every script's ARGV[1] is the key prefix P; key names mirror records/keyspace.py exactly.
-- Published payloads are envelopes "seq<TAB>conv<TAB>frame": the frame is the JSON text sent to
-- the client as is; seq (0 when not a message) lets a socket drop a replayed duplicate.
local P = ARGV[1]
local K = {}
function K.conv(c) return P .. ':conv:' .. c end
function K.log(c) return P .. ':conv:' .. c .. ':log' end
function K.cids(c) return P .. ':conv:' .. c .. ':cids' end
function K.declined(c) return P .. ':conv:' .. c .. ':declined' end
function K.esc(c) return P .. ':conv:' .. c .. ':esc' end
function K.notes(c) return P .. ':conv:' .. c .. ':notes' end
function K.peer(u) return P .. ':peer:' .. u end
function K.peer_convs(u) return P .. ':peer:' .. u .. ':convs' end
function K.peer_offers(u) return P .. ':peer:' .. u .. ':offers' end
function K.offer(o) return P .. ':offer:' .. o end
function K.conns(kind, id) return P .. ':conns:' .. kind .. ':' .. id end
K.queue = P .. ':queue'
K.live = P .. ':live'
K.on_shift = P .. ':peers:on'
K.shifting = P .. ':peers:shift'
K.timers = P .. ':timers'
K.wake = P .. ':wake'
K.worker = P .. ':worker'
K.sms_events = P .. ':sms:events'
K.stats = P .. ':stats'
K.accepts = P .. ':accepts'
function K.once(id) return P .. ':once:' .. id end
function K.ch_seeker(c) return P .. ':ev:s:' .. c end
function K.ch_monitor(c) return P .. ':ev:m:' .. c end
function K.ch_peer(u) return P .. ':ev:p:' .. u end
K.ch_sup = P .. ':ev:sup'
K.ch_queue = P .. ':ev:queue'

local BAND_SCALE = 10000000000000
local MATCH_SCAN_LIMIT = 500  -- queue entries one matching pass looks at (routing/engine.py)
local function score(band, queued_ms) return band * BAND_SCALE + queued_ms end

local function envelope(seq, conv, frame) return tostring(seq) .. '\t' .. conv .. '\t' .. frame end

local function wake()
  redis.call('LPUSH', K.wake, '1')
  redis.call('LTRIM', K.wake, 0, 15)
end

local function queue_changed() redis.call('PUBLISH', K.ch_queue, '') end

-- A seeker-facing frame: to the seeker's sockets and, when the conversation's channel asked for
-- it at creation (field 'events': a list key, e.g. the SMS bridge's), onto that list as
-- "conv<TAB>frame". events: the field, when the caller has read it already (else read here).
local function to_seeker(conv, seq, frame, events)
  redis.call('PUBLISH', K.ch_seeker(conv), envelope(seq, conv, frame))
  if events == nil then events = redis.call('HGET', K.conv(conv), 'events') end
  if events and events ~= '' then redis.call('RPUSH', events, conv .. '\t' .. frame) end
end

local function to_peer(user, conv, seq, frame)
  redis.call('PUBLISH', K.ch_peer(user), envelope(seq, conv, frame))
end

local function to_monitors(conv, seq, frame)
  redis.call('PUBLISH', K.ch_monitor(conv), envelope(seq, conv, frame))
end

local function num(v) return tonumber(v) or 0 end

-- The seeker's check-in answers as a frame field, or nil when there were none (checkin.lua).
local function checkin_field(conv)
  local h = redis.call('HMGET', K.conv(conv), 'checkin_feeling', 'checkin_safe')
  if not h[1] and not h[2] then return nil end
  return {feeling = tonumber(h[1]) or cjson.null, safe = h[2] or cjson.null}
end

-- The peer's shift frame, published to all of its sockets.
local function publish_shift(user)
  local h = redis.call('HMGET', K.peer(user), 'state', 'capacity', 'active', 'debrief_until')
  local debrief = num(h[4])
  local frame = cjson.encode({
    type = 'shift', state = h[1] or 'off', capacity = num(h[2]), active = num(h[3]),
    debrief_until = (debrief > 0) and (debrief / 1000) or cjson.null,
  })
  to_peer(user, '-', 0, frame)
end

-- The conversation fields append_msg needs, in one read: {state, peer, events, idle_ms}.
local function msg_fields(conv)
  return redis.call('HMGET', K.conv(conv), 'state', 'peer', 'events', 'idle_ms')
end

-- Store a message and fan it out. Returns its seq. sender: seeker | peer | system.
-- f: msg_fields(conv), when the caller has read them already (else they are read here).
local function append_msg(conv, sender, text, at, f)
  f = f or msg_fields(conv)
  local seq = redis.call('HINCRBY', K.conv(conv), 'seq', 1)
  local msg = cjson.encode({seq = seq, from = sender, text = text, at = at})
  redis.call('RPUSH', K.log(conv), msg)
  local body = string.sub(msg, 2)
  local peer_frame = '{"type":"message","conversation":"' .. conv .. '",' .. body
  -- A sender is not sent its own message (its ack carries the seq); a resume replays it.
  if sender ~= 'seeker' then to_seeker(conv, seq, '{"type":"message",' .. body, f[3] or '') end
  to_monitors(conv, seq, peer_frame)
  local peer = f[2]
  if peer and peer ~= '' and sender ~= 'peer' and f[1] == 'active' then
    to_peer(peer, conv, seq, peer_frame)
  end
  return seq
end

-- The seeker's waiting status, computed here so it is consistent with the queue it describes.
local function waiting_status(conv)
  local rank = redis.call('ZRANK', K.queue, conv)
  local pos = rank and (rank + 1) or 0
  return cjson.encode({type = 'status', state = 'waiting', position = pos,
                       peers_on_shift = redis.call('SCARD', K.on_shift)})
end

-- The offer frame of a pending offer, as of now_ms: the one place it is built, for the offer
-- itself and for a console that reconnects while it is pending (offers.lua). nil when gone.
local function offer_frame(offer_id, now_ms)
  local o = redis.call('HMGET', K.offer(offer_id), 'conv', 'expires', 'from')
  if not o[1] then return nil end
  local c = redis.call('HMGET', K.conv(o[1]), 'channel', 'queued', 'risk', 'lang')
  local frame = {
    type = 'offer', offer = offer_id, conversation = o[1], channel = c[1] or 'web', lang = c[4] or 'en',
    waited_s = math.max(0, math.floor((now_ms - num(c[2])) / 1000)), risk = (c[3] == '1'),
    expires_in_s = math.max(0, math.floor((num(o[2]) - now_ms) / 1000 + 0.5)),
  }
  if o[3] and o[3] ~= '' then frame.transfer_from = o[3] end
  frame.checkin = checkin_field(o[1])
  return cjson.encode(frame)
end

-- Create an offer of conv to user. The caller has checked conv is waiting and user has room.
local function make_offer(conv, user, offer_id, now_ms, expires_ms, from_user)
  redis.call('HSET', K.offer(offer_id), 'conv', conv, 'peer', user, 'expires', expires_ms, 'from', from_user)
  redis.call('HSET', K.conv(conv), 'state', 'offered', 'offer', offer_id)
  redis.call('HINCRBY', K.peer(user), 'offers', 1)
  redis.call('SADD', K.peer_offers(user), offer_id)
  redis.call('ZADD', K.timers, expires_ms, 'offer|' .. offer_id)
  to_peer(user, conv, 0, offer_frame(offer_id, now_ms))
end

-- Remove an offer and undo its bookkeeping; the conversation goes back to waiting.
local function drop_offer(offer_id, notify)
  local o = redis.call('HMGET', K.offer(offer_id), 'conv', 'peer')
  if not o[1] then return nil end
  redis.call('DEL', K.offer(offer_id))
  redis.call('ZREM', K.timers, 'offer|' .. offer_id)
  redis.call('SREM', K.peer_offers(o[2]), offer_id)
  redis.call('HINCRBY', K.peer(o[2]), 'offers', -1)
  if redis.call('HGET', K.conv(o[1]), 'offer') == offer_id then
    redis.call('HSET', K.conv(o[1]), 'offer', '')
    if redis.call('HGET', K.conv(o[1]), 'state') == 'offered' then
      redis.call('HSET', K.conv(o[1]), 'state', 'waiting')
    end
  end
  if notify then
    to_peer(o[2], o[1], 0, cjson.encode({type = 'revoked', offer = offer_id, conversation = o[1]}))
  end
  return o
end

local function peer_has_room(user, now_ms)
  local h = redis.call('HMGET', K.peer(user), 'state', 'capacity', 'active', 'offers', 'debrief_until')
  if h[1] ~= 'on' then return false end
  if num(h[5]) > now_ms then return false end
  return num(h[3]) + num(h[4]) < num(h[2])
end

local function split(s)
  local t = {}
  if s then for part in string.gmatch(s, '[^,]+') do t[#t + 1] = part end end
  return t
end

-- A JSON array of strings (cjson would encode an empty table as an object).
local function str_array(t)
  local parts = {}
  for i, v in ipairs(t) do parts[i] = cjson.encode(v) end
  return '[' .. table.concat(parts, ',') .. ']'
end

-- The peer's view of a conversation: what it needs to take it over, history included.
local function assigned_frame(conv)
  local c = redis.call('HMGET', K.conv(conv), 'channel', 'risk', 'label', 'lang', 'escalated')
  local head = cjson.encode({type = 'assigned', conversation = conv, channel = c[1], risk = (c[2] == '1'),
                             label = c[3] or cjson.null, lang = c[4] or 'en', checkin = checkin_field(conv)})
  local hist = redis.call('LRANGE', K.log(conv), 0, -1)
  local notes = redis.call('LRANGE', K.notes(conv), 0, -1)
  return string.sub(head, 1, -2) .. ',"escalated":' .. str_array(split(c[5])) ..
         ',"notes":[' .. table.concat(notes, ',') .. '],"history":[' .. table.concat(hist, ',') .. ']}'
end

-- The languages a peer takes chats in (field 'langs', "en,fr", set from its account when it went
-- on shift); a peer hash without it (on shift since before languages existed) speaks both.
local function peer_langs(raw)
  local t = {}
  for _, l in ipairs(split((raw and raw ~= '') and raw or 'en,fr')) do t[l] = true end
  return t
end

-- How long a conversation waits for a peer who speaks its language (CHATD_LANG_FALLBACK_S).
local LANG_FALLBACK_MS = tonumber(CONST.lang_fallback_ms) or 0

-- How long an accepting peer has for its first message before its console is nudged (and twice
-- that before supervisors are alerted and the seeker reassured): CHATD_FIRST_REPLY_S.
local FIRST_REPLY_MS = tonumber(CONST.first_reply_ms) or 0

-- The no-first-reply timers of a conversation just assigned (accept.lua), and their removal when
-- the peer writes or the conversation leaves it. The handler (noreply.lua) checks again anyway.
local function first_reply_timers(conv, now_ms)
  if FIRST_REPLY_MS > 0 then
    redis.call('ZADD', K.timers, now_ms + FIRST_REPLY_MS, 'nudge|' .. conv)
    redis.call('ZADD', K.timers, now_ms + 2 * FIRST_REPLY_MS, 'noreply|' .. conv)
  end
end
local function clear_first_reply_timers(conv) redis.call('ZREM', K.timers, 'nudge|' .. conv, 'noreply|' .. conv) end

-- A conversation queued at now_ms: the worker matches again when its language wait ends (timer
-- 'lang|conv'), so it reaches any peer then, not at the worker's next round by chance.
local function lang_timer(conv, now_ms)
  if LANG_FALLBACK_MS > 0 then redis.call('ZADD', K.timers, now_ms + LANG_FALLBACK_MS, 'lang|' .. conv) end
end

-- Put a conversation in state new into the queue (its first message, append.lua; or a check-in
-- that said "not safe", checkin.lua): waiting, in band (0 risk, 2 normal), with its wait and
-- language timers, and the seeker told its place. The caller wakes the worker and escalates.
local function queue_conv(conv, now_ms, band, wait_ms, events)
  redis.call('HSET', K.conv(conv), 'state', 'waiting', 'queued', now_ms, 'first_queued', now_ms, 'band', band)
  if band == 0 then redis.call('HSET', K.conv(conv), 'risk', '1') end
  redis.call('ZADD', K.queue, score(band, now_ms), conv)
  redis.call('ZADD', K.timers, now_ms + wait_ms, 'wait|' .. conv)
  lang_timer(conv, now_ms)
  to_seeker(conv, 0, waiting_status(conv), events)
  queue_changed()
end

-- One matching pass (routing/policy.py states the rules; tests/test_policy.py checks this
-- function makes the same decisions as plan_offers on random cases). Waiting conversations in
-- queue order (score, then id). Until LANG_FALLBACK_MS after its queueing a conversation goes
-- only to a peer who speaks its language (an SMS one whose language is not known: any peer);
-- none with room: it is skipped, and the ones behind it are matched. Among the peers it may go
-- to: one who has not declined it or let it expire, then one who speaks its language, then the
-- lowest load (active + offers), then idle longest, then name. Offers use ids[first..#ids].
-- Returns: offers made, and 1 when it stopped for want of ids (more may be possible).
local function match_pass(now_ms, timeout_ms, limit, ids, first)
  local pool = {}
  for _, user in ipairs(redis.call('SMEMBERS', K.on_shift)) do
    local h = redis.call('HMGET', K.peer(user), 'state', 'capacity', 'active', 'offers', 'idle_since',
                         'debrief_until', 'langs')
    local p = {user = user, capacity = num(h[2]), load = num(h[3]) + num(h[4]), idle = num(h[5]),
               langs = peer_langs(h[7])}
    if h[1] == 'on' and num(h[6]) <= now_ms and p.load < p.capacity then pool[#pool + 1] = p end
  end
  local made, next_id = 0, first
  if #pool == 0 then return made, 0 end
  for _, conv in ipairs(redis.call('ZRANGE', K.queue, 0, limit - 1)) do
    local c = redis.call('HMGET', K.conv(conv), 'state', 'lang', 'queued', 'sms_lang')
    if c[1] == 'waiting' then
      if next_id > #ids then return made, 1 end
      local lang = c[2] or ''
      if c[4] == '' then lang = '' end  -- an SMS texter's language not known yet
      local strict = lang ~= '' and now_ms < num(c[3]) + LANG_FALLBACK_MS
      local declined = {}
      for _, d in ipairs(redis.call('SMEMBERS', K.declined(conv))) do declined[d] = true end
      local best, best_i, best_key = nil, 0, nil
      for i, p in ipairs(pool) do
        local speaks = lang == '' or p.langs[lang] == true
        if speaks or not strict then
          local key = {declined[p.user] and 1 or 0, speaks and 0 or 1, p.load, p.idle}
          local better = best == nil
          if not better then
            for j = 1, 4 do
              if key[j] ~= best_key[j] then better = key[j] < best_key[j]; break end
              if j == 4 then better = p.user < best.user end
            end
          end
          if better then best, best_i, best_key = p, i, key end
        end
      end
      if best ~= nil then
        make_offer(conv, best.user, ids[next_id], now_ms, now_ms + timeout_ms, '')
        next_id = next_id + 1
        made = made + 1
        best.load = best.load + 1
        if best.load >= best.capacity then
          table.remove(pool, best_i)
          if #pool == 0 then return made, 0 end
        end
      end
    end
  end
  return made, 0
end

-- Escalate conv for reason (CONTRACT.md section 5): record it, give the seeker the crisis line
-- (the text in the conversation's language, from the settings' texts in CONST), alert the
-- supervisors, tell the assigned peer and monitors. Risk also moves a queued conversation to
-- the front. Automatic reasons fire once per conversation; a peer may escalate as often as
-- needed. Returns nil when done, else why not: 'unknown' | 'ended' | 'not_queued' | 'dup'.
local function escalate_conv(conv, reason, now_ms, only_if_queued)
  local c = redis.call('HMGET', K.conv(conv), 'state', 'escalated', 'peer', 'queued', 'channel', 'lang', 'events')
  local state = c[1]
  if not state then return 'unknown' end
  if state == 'ended' then return 'ended' end
  local queued = (state == 'waiting' or state == 'offered')
  if only_if_queued and not queued then return 'not_queued' end
  local escalated = c[2] or ''
  if reason ~= 'peer' and string.find(',' .. escalated .. ',', ',' .. reason .. ',', 1, true) then
    return 'dup'
  end
  redis.call('RPUSH', K.esc(conv), reason .. '|' .. now_ms)
  redis.call('HSET', K.conv(conv), 'escalated', (escalated == '') and reason or (escalated .. ',' .. reason))
  redis.call('HINCRBY', K.stats, 'escalations_' .. reason, 1)
  if reason == 'risk' then
    redis.call('HSET', K.conv(conv), 'risk', '1')
    if queued then
      redis.call('HSET', K.conv(conv), 'band', 0)
      redis.call('ZADD', K.queue, 'XX', score(0, num(c[4])), conv)
    end
  end
  local texts = (CONST.escalation or {})[reason] or {}
  to_seeker(conv, 0, cjson.encode({type = 'escalation', reason = reason, crisis_line = CONST.crisis_line,
                                   crisis_email = CONST.crisis_email,
                                   text = texts[c[6] or 'en'] or texts.en or ''}), c[7] or '')
  local alert = cjson.encode({type = 'alert', conversation = conv, reason = reason, channel = c[5],
                              state = state, peer = (c[3] and c[3] ~= '') and c[3] or cjson.null})
  redis.call('PUBLISH', K.ch_sup, envelope(0, conv, alert))
  to_monitors(conv, 0, cjson.encode({type = 'escalation', conversation = conv, reason = reason}))
  if state == 'active' and c[3] and c[3] ~= '' then
    to_peer(c[3], conv, 0, cjson.encode({type = 'escalation', conversation = conv, reason = reason}))
  end
  queue_changed()
  return nil
end
