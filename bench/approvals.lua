-- wrk script for bench/ledger.py: every award of BENCH_IDS approved once.
-- The ids are dealt out to wrk's threads; each thread stops once all of its own have
-- been answered. Requests sent after a thread's ids run out (at most one per
-- connection) repeat its last id and are refused with 409; bench/ledger.py counts
-- approvals in the database, not responses.
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_IDS")
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS"))
  mine, sent, answered = {}, 0, 0
  local i = 0
  for line in io.lines(path) do
    if i % count == index then table.insert(mine, line) end
    i = i + 1
  end
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  local id = mine[math.min(sent, #mine)]
  return wrk.format("POST", "/v1/awards/" .. id .. "/approve", nil, "{}")
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= #mine then wrk.thread:stop() end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
