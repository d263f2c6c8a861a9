-- wrk script of bench/lrs.py (the light load generator): POST pre-generated xAPI bodies, one
-- JSON document per line of $LRS_WRK_BODIES, each body once, in file order. wrk is written in
-- C and costs a fraction of the CPU an httpx client costs per request, so the server gets the
-- cores the Python generator would take. Prints one JSON line of figures at the end.
local bodies = {}
for line in io.lines(os.getenv("LRS_WRK_BODIES")) do bodies[#bodies + 1] = line end
local headers = {
  ["Authorization"] = os.getenv("LRS_WRK_AUTH"),
  ["X-Experience-API-Version"] = "1.0.3",
  ["Content-Type"] = "application/json",
}
local path = os.getenv("LRS_WRK_PATH")
local sent = 0

request = function()
  sent = sent + 1
  if sent >= #bodies then
    -- Out of bodies: stop (the bench sizes the file so this does not happen; if it does, the
    -- last body may go twice and is then stored once, idempotently).
    wrk.thread:stop()
    sent = #bodies
  end
  return wrk.format("POST", path, headers, bodies[sent])
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors_status": %d, "errors_other": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "bodies": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), #bodies))
end
