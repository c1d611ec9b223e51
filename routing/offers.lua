-- offers: the frames of a peer's pending offers, built as make_offer built them (offer_frame in
-- _lib.lua), for a console that reconnects while they are pending.
-- KEYS: none. ARGV: 1 prefix, 2 peer, 3 now_ms
-- Returns: a list of offer frames (JSON texts)
local frames = {}
for _, offer_id in ipairs(redis.call('SMEMBERS', K.peer_offers(ARGV[2]))) do
  local frame = offer_frame(offer_id, tonumber(ARGV[3]))
  if frame then frames[#frames + 1] = frame end
end
return frames
