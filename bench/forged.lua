-- wrk: POST the GraphQL body in $BODY with a fresh forgery of the token in $AUTH on every
-- request: the characters 20 to 27 of its signature (the third part) are replaced by a counter,
-- so that no two requests carry the same token and each costs the server a signature check
-- (a token it has refused once is refused from memory after). "Bearer " is not added.
local body = os.getenv("BODY")
local token = os.getenv("AUTH")
local dot = token:find(".", token:find(".", 1, true) + 1, true)
local head, sig = token:sub(1, dot), token:sub(dot + 1)
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

local function encode(n)
  local out = {}
  for i = 1, 8 do
    local d = n % 64
    out[i] = alphabet:sub(d + 1, d + 1)
    n = math.floor(n / 64)
  end
  return table.concat(out)
end

function request()
  counter = counter + 1
  -- Each wrk thread counts in its own range.
  local n = (tid or 0) * 1e9 + counter
  local forged = head .. sig:sub(1, 19) .. encode(n) .. sig:sub(28)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = forged,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
