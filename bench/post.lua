-- wrk: POST the GraphQL body in $BODY with the API key in $KEY, and the value of $AUTH (if set
-- and not empty) as the Authorization header, e.g. AUTH="Bearer <jwt>" (leave KEY unset then).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = os.getenv("KEY")
local auth = os.getenv("AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

-- Non-2xx answers count as errors (summary.errors.status); bench.py checks each body once.
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
