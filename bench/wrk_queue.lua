-- wrk script for bench/work_queue.py: each connection is one robot taking an item
-- (POST /webhook/queue/next) and posting its result, then the next. Run with -t N -c N (one
-- connection per thread: a thread's Lua state is that robot's state).
local token = os.getenv("WQ_TOKEN")
local queue = os.getenv("WQ_QUEUE")
local robot = os.getenv("WQ_ROBOT")
local headers = {["Content-Type"] = "application/json", ["X-Webhook-Token"] = token}
local take_body = '{"queue":"' .. queue .. '","shadow_bot_account":"' .. robot .. '"}'
local result_body = '{"status":"successful","output":{"done":true}}'
local pending = nil

function request()
  if pending then
    return wrk.format("POST", "/api/v1/webhook/queue/items/" .. pending .. "/result", headers, result_body)
  end
  return wrk.format("POST", "/api/v1/webhook/queue/next", headers, take_body)
end

function response(status, hdrs, body)
  if pending then
    pending = nil
    return
  end
  if status == 200 then
    pending = body:match('"item":%s*{%s*"id":%s*"([^"]+)"')
  end
end
