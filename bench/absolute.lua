-- wrk request generator for `make bench`: rotates over BENCH_FILES files
-- named BENCH_PREFIX .. N (N = 0 .. BENCH_FILES-1). For magpie the prefix is
-- an absolute URI ("http://127.0.0.1:PORT/1k/"), so the request line is the
-- forward-proxy form; for nginx direct it is an origin-form path ("/1k/").
-- Each wrk thread has its own Lua state; run.py uses one thread.
local prefix = os.getenv("BENCH_PREFIX") or "/"
local files = tonumber(os.getenv("BENCH_FILES") or "100")
local i = -1

request = function()
   i = (i + 1) % files
   return wrk.format(nil, prefix .. i)
end
