-- forget: after the end, delete every stored text of the conversation from Redis at once and
-- mark it forgotten, so an archive that races this deletes what it copied (routing/archive.py).
-- KEYS: none. ARGV: 1 prefix, 2 conv
-- Returns: {'ok'} | {'err', 'unknown'|'not_ended'}
local conv = ARGV[2]
local state = redis.call('HGET', K.conv(conv), 'state')
if not state then return {'err', 'unknown'} end
if state ~= 'ended' then return {'err', 'not_ended'} end
redis.call('HSET', K.conv(conv), 'forgotten', '1')
redis.call('DEL', K.log(conv), K.notes(conv))
return {'ok'}
