-- wrk script: every request carries a token the server has not seen before, taken in turn
-- from the file given as the script's first argument (one token a line). If the run sends
-- more requests than there are tokens it starts again from the first, and the result line
-- says `wrapped=true`: tokens then repeat, and the run does not measure first-seen tokens.
-- Usage: wrk -s first_seen.lua <url> -- <tokens file>

local threads = {}
local requests = {}
local count = 0
local next_one = 0
wrapped = false

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for token in io.lines(args[1]) do
    count = count + 1
    requests[count] = wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. token })
  end
  assert(count > 0, "no tokens in " .. args[1])
end

function request()
  next_one = next_one + 1
  if next_one > count then
    next_one = 1
    wrapped = true
  end
  return requests[next_one]
end

function done(summary, latency, requests)
  local any_wrapped = false
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") then
      any_wrapped = true
    end
  end
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f status_errors=%d socket_errors=%d wrapped=%s\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    tostring(any_wrapped)))
end
