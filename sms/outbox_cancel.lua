-- Drop every waiting message of a conversation (it ended, the texter opted out or
-- asked for deletion), so no phone number or text of it stays in the outbox.
-- KEYS[1..4] see outbox_lib.lua; then KEYS[5], KEYS[6] job and receipt of ARGV[2],
-- KEYS[7], KEYS[8] those of ARGV[3], and so on
-- ARGV[1] conversation id, ARGV[2..] the seqs to drop
-- Returns the seqs actually dropped. A worker holding the conversation finds its job
-- gone and releases it.
local dropped = {}
for i = 2, #ARGV do
  local job, receipt = KEYS[2 * i + 1], KEYS[2 * i + 2]
  if redis.call('DEL', job) == 1 then
    redis.call('LREM', KEYS[4], 0, ARGV[i])
    if redis.call('EXISTS', receipt) == 1 then
      redis.call('HSET', receipt, 'state', 'failed', 'final', 'failed', 'code', 'cancelled')
    end
    table.insert(dropped, ARGV[i])
  end
end
if redis.call('LLEN', KEYS[4]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return dropped
