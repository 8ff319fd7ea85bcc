-- wrk: a mix of GraphQL requests, 5% of them malformed (see bench/soak.py).
local key = os.getenv("KEY")
local id = os.getenv("ID")
local valid = {
  '{"query": "query ($id: ID!) { getTrainer(id: $id) { id firstName } }", "variables": {"id": "' .. id .. '"}}',
  '{"query": "{ allTrainers(limit: 20) { items { id firstName } nextToken } }"}',
  '{"query": "mutation { createTrainer(firstName: \\"Soak\\", lastName: \\"Test\\", age: 30) { id } }"}',
  '{"query": "mutation ($id: ID!) { updateTrainers(id: $id, age: 31) { id version } }", "variables": {"id": "' .. id .. '"}}',
}
local malformed = {
  '{"query": "{ allTrainers { items { id } "',
  '{"variables": {}}',
  'not json at all',
  '{"query": 42}',
  '{"query": "{ getTrainer(id: 1) { nope } }"}',
  '{"query": "query { __typename(arg: 1) }"}',
  '{"query": "mutation { createTrainer(firstName: \\"\\", lastName: \\"x\\", age: 5) { id } }"}',
  '',
}
local headers = {["Content-Type"] = "application/json", ["x-api-key"] = key}
math.randomseed(os.time())
request = function()
  local body
  if math.random() < 0.05 then
    body = malformed[math.random(#malformed)]
  else
    body = valid[math.random(#valid)]
  end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
