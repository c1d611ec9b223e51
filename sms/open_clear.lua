-- open_clear: delete a number's open-conversation claim only if it still names the given
-- conversation (compare and delete), so a claim another process just made survives.
-- KEYS: 1 open key. ARGV: 1 conversation id. Returns 1 when deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
