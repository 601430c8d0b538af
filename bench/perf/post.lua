-- POST /api/v1/memories with unique texts. args: MIX (plain|claim) TAG [async]
local words = {"river","coffee","garden","piano","window","market","orange","winter","silver","forest",
  "bridge","candle","pepper","rocket","shadow","violet","harbor","meadow","copper","lantern"}
local counter = 0
local mix, tag, async = "plain", "t", false
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  mix = args[1] or "plain"; tag = args[2] or "t"; async = (args[3] == "async")
  math.randomseed(os.time() + (tid or 0) * 7919)
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  if os.getenv("CORE_KEY") then wrk.headers["x-api-key"] = os.getenv("CORE_KEY") end
  if os.getenv("CORE_PROJECT") then wrk.headers["x-project-id"] = os.getenv("CORE_PROJECT") end
  if async then wrk.headers["Prefer"] = "respond-async" end
end
local function w() return words[math.random(#words)] end
function request()
  counter = counter + 1
  local subj = "s_" .. math.random(0, 99)
  local text
  if mix == "claim" then
    text = string.format("I like %s %s and %s %s %s (%s-%d-%d)", w(), w(), w(), w(), w(), tag, tid or 0, counter)
  else
    text = string.format("Had %s %s with %s %s during %s %s (%s-%d-%d)", w(), w(), w(), w(), w(), w(), tag, tid or 0, counter)
  end
  return wrk.format(nil, "/api/v1/memories", nil, string.format('{"subject_id":"%s","text":"%s"}', subj, text))
end
local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50=%.2f p95=%.2f p99=%.2f max=%.2f n=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
