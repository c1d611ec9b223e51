-- assigned: the 'assigned' frame of a conversation, read-only (a reconnecting console gets one
-- for each of its active conversations), or the 'monitoring' frame for a supervisor.
-- KEYS: none. ARGV: 1 prefix, 2 conv, 3 frame type (assigned|monitoring)
-- Returns: the frame's JSON text, or false when the conversation does not exist
local conv = ARGV[2]
if redis.call('EXISTS', K.conv(conv)) == 0 then return false end
local frame = assigned_frame(conv)
if ARGV[3] == 'monitoring' then
  local c = redis.call('HMGET', K.conv(conv), 'state', 'peer_name')
  frame = '{"type":"monitoring","state":' .. cjson.encode(c[1] or '') .. ',"peer_name":' ..
          cjson.encode(c[2] or '') .. ',' .. string.sub(frame, string.len('{"type":"assigned",') + 1)
end
return frame
