-- release_offer: a peer declines an offer, or the worker expires it. The conversation waits again
-- and that peer is offered it again only when no other peer can take it. A peer who lets two
-- offers in a row expire is put on break, and its other pending offers go back too.
-- KEYS: none. ARGV: 1 prefix, 2 offer_id, 3 peer ('' = whoever holds it), 4 mode (decline|expire),
--       5 missed limit
-- Returns: {'ok', conv, peer, went_on_break} | {'err', 'offer_gone'}
local offer_id, user, mode = ARGV[2], ARGV[3], ARGV[4]
local o = redis.call('HMGET', K.offer(offer_id), 'conv', 'peer')
if not o[1] or (user ~= '' and o[2] ~= user) then return {'err', 'offer_gone'} end
drop_offer(offer_id, mode == 'expire')
redis.call('SADD', K.declined(o[1]), o[2])
local went_on_break = 0
if mode == 'expire' then
  local missed = redis.call('HINCRBY', K.peer(o[2]), 'missed', 1)
  if missed >= tonumber(ARGV[5]) and redis.call('HGET', K.peer(o[2]), 'state') == 'on' then
    redis.call('HSET', K.peer(o[2]), 'state', 'break', 'missed', 0)
    redis.call('SREM', K.on_shift, o[2])
    for _, other in ipairs(redis.call('SMEMBERS', K.peer_offers(o[2]))) do
      local back = drop_offer(other, true)
      if back then redis.call('SADD', K.declined(back[1]), o[2]) end
    end
    publish_shift(o[2])
    went_on_break = 1
  end
else
  redis.call('HSET', K.peer(o[2]), 'missed', 0)
end
queue_changed()
wake()
return {'ok', o[1], o[2], went_on_break}
