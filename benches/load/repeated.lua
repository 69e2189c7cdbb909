-- wrk script: every request carries the same bearer token, read from the file given as
-- the script's first argument (so that it never appears on a command line).
-- Usage: wrk -s repeated.lua <url> -- <token file>

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  local token = file:read("*l")
  file:close()
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f status_errors=%d socket_errors=%d wrapped=false\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
