-- wrk script: GET a uniformly random key of key-00000000 .. key-(N-1), N the script's first
-- argument (wrk ... -s wrk-get-keys.lua URL -- N), named as core/workload/keys.ts names them.
-- The requests are formatted once, so wrk spends no more per request than on a fixed URL.
local requests = {}
local count = 0

function init(args)
  count = tonumber(args[1]) or 10000
  for i = 1, count do
    requests[i] = wrk.format("GET", string.format("/v1/keys/key-%08d", i - 1))
  end
  math.randomseed(7)
end

function request()
  return requests[math.random(count)]
end
