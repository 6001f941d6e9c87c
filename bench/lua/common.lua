-- Shared by every scenario (the harness prepends it). Loads the data file the harness wrote,
-- counts statuses per thread, and prints one machine-readable result line from done().
--
-- Data file: one record per line, tab-separated:
--   get   <path>                        GET paths to rotate through
--   user  <id>  <token>                 registered shoppers
--   line  <productId>  <size as JSON>   orderable (product, size) pairs
--   cookie  <Cookie header>             sent with every GET (a returning browser's session)

local function split(s)
  local fields = {}
  for field in string.gmatch(s, "[^\t]+") do table.insert(fields, field) end
  return fields
end

data = {gets = {}, users = {}, lines = {}}
statuses = {}
tid = 0
n = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  for record in io.lines(args[1]) do
    local f = split(record)
    if f[1] == "get" then table.insert(data.gets, f[2])
    elseif f[1] == "user" then table.insert(data.users, {id = f[2], token = f[3]})
    elseif f[1] == "line" then table.insert(data.lines, {product = f[2], size = f[3]})
    elseif f[1] == "cookie" then data.cookie = f[2]
    end
  end
  run_id = args[2] or "run"
  n = tid * 1000003  -- threads walk the data from different places
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function json_headers(user)
  return {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. user.token}
end

function get_request()
  n = n + 1
  local headers = data.cookie and {["Cookie"] = data.cookie} or nil
  return wrk.format("GET", data.gets[n % #data.gets + 1], headers)
end

-- Round-robin over shopper x product line, so no cart line nears the 99 quantity cap.
function add_to_cart_request()
  n = n + 1
  local user = data.users[n % #data.users + 1]
  local line = data.lines[math.floor(n / #data.users) % #data.lines + 1]
  return wrk.format("POST", "/api/cart", json_headers(user),
    '{"productId":' .. line.product .. ',"size":' .. line.size .. ',"quantity":1}')
end

-- A unique Idempotency-Key per request: every request is a new order.
function place_order_request()
  n = n + 1
  local user = data.users[n % #data.users + 1]
  local first = data.lines[n % #data.lines + 1]
  local second = data.lines[(n + 7) % #data.lines + 1]
  local items = '{"productId":' .. first.product .. ',"size":' .. first.size .. ',"quantity":1}'
  if second.product ~= first.product or second.size ~= first.size then
    items = items .. ',{"productId":' .. second.product .. ',"size":' .. second.size .. ',"quantity":2}'
  end
  local headers = json_headers(user)
  headers["Idempotency-Key"] = run_id .. "-" .. tid .. "-" .. n
  return wrk.format("POST", "/api/orders", headers,
    '{"items":[' .. items .. '],"shippingAddress":"12 Nguyen Hue, District 1, Ho Chi Minh City"}')
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, count in pairs(s) do counts[status] = (counts[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(counts) do table.insert(parts, string.format('"%d":%d', status, count)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, table.concat(parts, ",")))
end
