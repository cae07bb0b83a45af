-- wrk script for bench/wrk_bench.py: every request is a DISTINCT execution-complete webhook.
-- Each wrk thread numbers its requests and prefixes them with its own id, so no two requests
-- of a run (or of two runs: RUN is the run's random tag) are the same execution.
local thread_counter = 0
local RUN = os.getenv("WRK_RUN") or "r"
local ACCOUNT = os.getenv("WRK_ACCOUNT") or "bench_bot"
local APP = os.getenv("WRK_APP") or "bench_app"
local TOKEN = os.getenv("WRK_TOKEN") or ""

local threads = {}

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("tid", thread_counter)
  table.insert(threads, thread)
end

local n = 0
acknowledged = {}

function request()
  n = n + 1
  -- Distinct start times: one second apart per request, threads a day apart.
  local t = 1767254400 + tid * 86400 * 400 + n
  local start = os.date("!%Y-%m-%d %H:%M:%S", t)
  local finish = os.date("!%Y-%m-%d %H:%M:%S", t + 5)
  local body = string.format(
    '{"shadow_bot_account":"%s","app_name":"%s","status":"%s","start_time":"%s",' ..
    '"end_time":"%s","duration_seconds":5,"result_summary":{"total_items":10,' ..
    '"success_items":9,"failed_items":1},"log_info":true,"screenshot":false,' ..
    '"log_url":"https://bucket.example.com/logs/%s-%d-%d.txt","execution_id":"%s-%d-%d"}',
    ACCOUNT, APP, (n % 10 == 0) and "failed" or "completed", start, finish,
    RUN, tid, n, RUN, tid, n)
  return wrk.format("POST", "/api/v1/webhook/execution-complete",
    {["Content-Type"] = "application/json", ["X-Webhook-Token"] = TOKEN}, body)
end

-- The log id of every 2xx answer, so the script can check each acknowledged log is stored.
function response(status, headers, body)
  if status >= 200 and status < 300 then
    local log_id = string.match(body, '"log_id":%s*"([^"]+)"')
    if log_id then
      table.insert(acknowledged, log_id)
    end
  end
end

function done(summary, latency, requests)
  local path = os.getenv("WRK_IDS_FILE")
  if not path then
    return
  end
  local out = io.open(path, "w")
  for _, thread in ipairs(threads) do
    for _, log_id in ipairs(thread:get("acknowledged")) do
      out:write(log_id, "\n")
    end
  end
  out:close()
end
