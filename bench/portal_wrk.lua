-- wrk script of bench/portal.py: every request is GET <path> for a random pupil's session.
--
--   wrk -t1 -c32 -d20s --latency -s bench/portal_wrk.lua URL -- SESSION_IDS_FILE COOKIE_NAME
--
-- COOKIE_NAME is the session cookie's name, optionally after other cookies every request carries
-- ("csrftoken=...; tsunagu_session"): the Cookie header is COOKIE_NAME=<session id>.
--
-- SESSION_IDS_FILE holds one session id a line (sessions bench/portal.py stored in Redis).
-- The requests are formatted once per thread at start, so choosing one costs a random number
-- and the load generator stays light. Responses outside 2xx are counted (wrk itself only counts
-- statuses >= 400, so a 303 to the sign-in page, i.e. a session the server did not know, would
-- pass unseen). done() prints one "bench:" line bench/portal.py parses, with the p95 that wrk's
-- --latency table does not show.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local path, cookie_name = args[1], args[2]
  prepared = {}
  for line in io.lines(path) do
    if line ~= "" then
      prepared[#prepared + 1] = wrk.format("GET", wrk.path, {
        ["Cookie"] = cookie_name .. "=" .. line,
        ["Accept-Encoding"] = "gzip",
      })
    end
  end
  assert(#prepared > 0, "no session ids in " .. path)
  non2xx = 0
  math.randomseed(os.time() * 1000 + id)
end

function request()
  return prepared[math.random(#prepared)]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    "bench: requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d "
      .. "p50_us=%d p95_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, non2xx_total, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max
  ))
end
