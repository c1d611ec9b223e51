-- inbound: a webhook's lookups in one round trip (sms/bridge.py), atomically.
-- Whether the MessageSid's work is done (a retry or a second copy of a text already handled:
-- P:once:<sid>, written by the step that finishes it, never before); the number's open
-- conversation, clearing a claim that names an ended or vanished one (compared and deleted
-- here, so a claim made a moment ago by another process is never deleted); and the language:
-- the conversation's, else the number's remembered one.
-- KEYS: 1 the MessageSid's once key, 2 open key, 3 number's language key.
-- ARGV: 1 conversation key prefix ("<prefix>:conv:").
-- Returns: {'dup', what the once key holds, the number's language or ''} | {'ok', conv or '', lang or ''}
local done = redis.call('GET', KEYS[1])
if done then return {'dup', done, redis.call('GET', KEYS[3]) or ''} end
local conv = redis.call('GET', KEYS[2])
if conv then
  local h = redis.call('HMGET', ARGV[1] .. conv, 'state', 'sms_lang')
  if not h[1] or h[1] == 'ended' then
    redis.call('DEL', KEYS[2])
    conv = false
  elseif h[2] and h[2] ~= '' then
    return {'ok', conv, h[2]}
  end
end
return {'ok', conv or '', redis.call('GET', KEYS[3]) or ''}
