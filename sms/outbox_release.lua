-- Give a held conversation back (nothing to send, or the worker is stopping).
-- KEYS[1..4] see outbox_lib.lua
-- ARGV[1] conversation id, ARGV[2] token, ARGV[3] due time for what remains
-- Returns 1, or 0 when the lease was no longer this worker's (nothing changed).
if not holds(ARGV[2]) then
  return 0
end
release(ARGV[3])
return 1
