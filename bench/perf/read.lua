-- GET search or list. args: search|list
local words = {"river","coffee","garden","piano","window","market","orange","winter","silver","forest",
  "bridge","candle","pepper","rocket","shadow","violet","harbor","meadow","copper","lantern"}
local kind = "search"
function setup(thread) end
function init(args)
  kind = args[1] or "search"
  math.randomseed(os.time())
  if os.getenv("CORE_KEY") then wrk.headers["x-api-key"] = os.getenv("CORE_KEY") end
  if os.getenv("CORE_PROJECT") then wrk.headers["x-project-id"] = os.getenv("CORE_PROJECT") end
end
function request()
  local subj = "s_" .. math.random(0, 99)
  if kind == "list" then
    return wrk.format("GET", "/api/v1/memories?subject_id=" .. subj .. "&limit=50")
  end
  local q = words[math.random(#words)] .. "%20" .. words[math.random(#words)]
  return wrk.format("GET", "/api/v1/memories/search?subject_id=" .. subj .. "&q=" .. q .. "&limit=10")
end
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50=%.2f p95=%.2f p99=%.2f max=%.2f n=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
