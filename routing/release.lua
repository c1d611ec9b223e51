-- release: an active conversation leaves its peer: transferred to a named peer (an offer to
-- that peer), back to the head of the queue (transfer to null), or requeued because the
-- peer's console stayed away past the grace time. The old peer is offered it again last.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 from peer, 4 to peer ('' = the queue), 5 offer_id,
--       6 now_ms, 7 offer expires_ms, 8 wait_escalate_ms, 9 at, 10 system text (en), 11 (fr)
-- Returns: {'ok'} | {'err', 'not_allowed'|'not_available'}
local conv, from_user, to_user, offer_id = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now_ms = tonumber(ARGV[6])
local c = redis.call('HMGET', K.conv(conv), 'state', 'peer', 'lang')
if c[1] ~= 'active' or c[2] ~= from_user then return {'err', 'not_allowed'} end
if to_user ~= '' and (to_user == from_user or not peer_has_room(to_user, now_ms)) then
  return {'err', 'not_available'}
end
redis.call('SREM', K.peer_convs(from_user), conv)
redis.call('HINCRBY', K.peer(from_user), 'active', -1)
redis.call('HSET', K.peer(from_user), 'idle_since', now_ms)
redis.call('SADD', K.declined(conv), from_user)
redis.call('HSET', K.conv(conv), 'state', 'waiting', 'peer', '', 'peer_name', '', 'band', 1, 'queued', now_ms)
redis.call('ZADD', K.queue, score(1, now_ms), conv)
redis.call('ZADD', K.timers, now_ms + tonumber(ARGV[8]), 'wait|' .. conv)
lang_timer(conv, now_ms)
clear_first_reply_timers(conv)
to_peer(from_user, conv, 0, cjson.encode({type = 'released', conversation = conv}))
publish_shift(from_user)
append_msg(conv, 'system', (c[3] == 'fr') and ARGV[11] or ARGV[10], ARGV[9])
if to_user ~= '' then make_offer(conv, to_user, offer_id, now_ms, tonumber(ARGV[7]), from_user) end
to_seeker(conv, 0, waiting_status(conv))
queue_changed()
wake()
return {'ok'}
