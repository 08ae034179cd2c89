-- wrk request generator for the index scenario of `make bench`: BENCH_COUNT
-- distinct URLs BENCH_PREFIX .. N (N = 0 .. BENCH_COUNT-1), each once, so
-- that magpie stores BENCH_COUNT objects. wrk runs for its -d duration
-- whatever a script does (thread:stop() does not end its main thread's
-- sleep), so after BENCH_COUNT + BENCH_SLACK responses this script stops
-- the thread and sends wrk the SIGINT that makes it print its summary and
-- exit. The slack (requests past BENCH_COUNT start over at 0: hits) makes
-- sure every one of the first BENCH_COUNT requests has been answered, on
-- whichever connection it went, before wrk closes its connections.
-- One wrk thread (run.py uses -t1): the counters are per thread.
local ffi = require("ffi")
ffi.cdef [[
int getpid(void);
int kill(int pid, int sig);
]]

local prefix = os.getenv("BENCH_PREFIX") or "/many/"
local count = tonumber(os.getenv("BENCH_COUNT") or "100000")
local stop_after = count + tonumber(os.getenv("BENCH_SLACK") or "1000")
local i, answered = -1, 0

request = function()
   i = i + 1
   return wrk.format(nil, prefix .. (i % count))
end

response = function(status, headers, body)
   answered = answered + 1
   if answered == stop_after then
      wrk.thread:stop()
      ffi.C.kill(ffi.C.getpid(), 2) -- SIGINT: wrk's own way to end early
   end
end
