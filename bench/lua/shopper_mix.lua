-- A sale-day shopper mix through the gateway: browse 10 : view 5 : search 3 : add to cart 2 :
-- checkout 1, interleaved in a fixed 21-step cycle. The data file's GET paths are tagged
-- browse/view/search by the harness (get lines are "<kind>:<path>").
local cycle = {"browse", "view", "browse", "search", "browse", "cart", "view", "browse", "browse",
               "view", "checkout", "browse", "search", "browse", "view", "cart", "browse",
               "search", "browse", "view", "browse"}
local step = 0
local by_kind = nil
local counters = {browse = 0, view = 0, search = 0}

local function index_paths()
  by_kind = {browse = {}, view = {}, search = {}}
  for _, tagged in ipairs(data.gets) do
    local kind, path = string.match(tagged, "^(%a+):(.*)$")
    table.insert(by_kind[kind], path)
  end
end

request = function()
  if by_kind == nil then index_paths() end
  step = step % #cycle + 1
  local kind = cycle[step]
  if kind == "cart" then return add_to_cart_request() end
  if kind == "checkout" then return place_order_request() end
  counters[kind] = counters[kind] + 1
  local paths = by_kind[kind]
  return wrk.format("GET", paths[(counters[kind] + tid) % #paths + 1])
end
