-- inbound: a webhook's lookups in one round trip (sms/bridge.py), atomically.
-- Claims the MessageSid (the first copy wins, on any process); finds the number's open
-- conversation, clearing a claim that names an ended or vanished one (compared and deleted
-- here, so a claim made a moment ago by another process is never deleted); and the language:
-- the conversation's, else the number's remembered one.
-- KEYS: 1 sid key, 2 open key, 3 number's language key.
-- ARGV: 1 sid TTL seconds, 2 conversation key prefix ("<prefix>:conv:").
-- Returns: {'dup'} | {'ok', conv or '', lang or ''}
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {'dup'} end
local conv = redis.call('GET', KEYS[2])
if conv then
  local h = redis.call('HMGET', ARGV[2] .. conv, 'state', 'sms_lang')
  if not h[1] or h[1] == 'ended' then
    redis.call('DEL', KEYS[2])
    conv = false
  elseif h[2] and h[2] ~= '' then
    return {'ok', conv, h[2]}
  end
end
return {'ok', conv or '', redis.call('GET', KEYS[3]) or ''}
