-- presence: a socket attaches to or detaches from a seeker's conversation or a peer. When the
-- last socket of one goes, its grace timer starts; when one comes back, the timer stops.
-- KEYS: none. ARGV: 1 prefix, 2 op (attach|detach), 3 kind (seeker|peer), 4 id, 5 socket id,
--       6 process id, 7 grace deadline ms (detach)
-- Returns: {'ok', sockets left}
local op, kind, id, sock, proc = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local conns = K.conns(kind, id)
local proc_conns = P .. ':proc:' .. proc .. ':conns'
local member = kind .. '|' .. id .. '|' .. sock
local timer = ((kind == 'seeker') and 'sgrace|' or 'pgrace|') .. id
if op == 'attach' then
  redis.call('HSET', conns, sock, proc)
  redis.call('SADD', proc_conns, member)
  redis.call('ZREM', K.timers, timer)
  return {'ok', redis.call('HLEN', conns)}
end
redis.call('HDEL', conns, sock)
redis.call('SREM', proc_conns, member)
local left = redis.call('HLEN', conns)
if left == 0 then
  if kind == 'seeker' then
    local c = redis.call('HMGET', K.conv(id), 'state', 'channel')
    if c[1] and c[1] ~= 'ended' and c[2] == 'web' then redis.call('ZADD', K.timers, tonumber(ARGV[7]), timer) end
  else
    local state = redis.call('HGET', K.peer(id), 'state') or 'off'
    if state ~= 'off' or redis.call('SCARD', K.peer_convs(id)) > 0 then
      redis.call('ZADD', K.timers, tonumber(ARGV[7]), timer)
    end
  end
end
return {'ok', left}
