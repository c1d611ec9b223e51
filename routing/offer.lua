-- offer: offer a waiting conversation to a peer with room (the matcher's decision, checked here).
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 peer, 4 offer_id, 5 now_ms, 6 expires_ms
-- Returns: {'ok'} | {'err', 'conv_busy'|'peer_busy'}
local conv, user, offer_id = ARGV[2], ARGV[3], ARGV[4]
local now_ms, expires_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('HGET', K.conv(conv), 'state') ~= 'waiting' then return {'err', 'conv_busy'} end
if not peer_has_room(user, now_ms) then return {'err', 'peer_busy'} end
make_offer(conv, user, offer_id, now_ms, expires_ms, '')
return {'ok'}
