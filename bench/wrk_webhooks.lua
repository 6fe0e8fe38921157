-- POST pre-signed Zoom notifications through the edge (bench/attendance.py).
--
-- Arguments after the URL: the requests file and the number of wrk threads. Each line
-- of the file is "<x-zm-request-timestamp>\t<x-zm-signature>\t<JSON body>". Thread i
-- (0-based) sends events i, i+N, i+2N, ... in file order, so the join storm comes
-- before the churn in every thread. Once every one of its events has been answered, a
-- thread prints "webhooks: thread <i> done" and stops. wrk's main thread still sleeps
-- until -d, so the caller interrupts wrk (SIGINT) when all threads are done, and wrk
-- reports over the time actually taken. done() prints "webhooks: sent S answered A".

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- Per thread; sent and answered are globals so that done() can read them with thread:get.
local share = {}
local cursor = 1
local verified = false
sent = 0
answered = 0

function init(args)
   -- wrk passes the URL as args[0]; the script's own arguments follow it.
   local path, count = args[1], tonumber(args[2])
   local file = assert(io.open(path, "r"))
   local index = 0
   for line in file:lines() do
      if index % count == id then
         local ts, signature, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
         assert(body, "malformed line " .. (index + 1) .. " in " .. path)
         local headers = {
            ["Content-Type"] = "application/json",
            ["x-zm-request-timestamp"] = ts,
            ["x-zm-signature"] = signature,
         }
         share[#share + 1] = wrk.format("POST", wrk.path, headers, body)
      end
      index = index + 1
   end
   file:close()
   assert(#share > 0, "thread " .. id .. " has no events")
end

function request()
   -- wrk calls request() once in the first thread to check the script before the
   -- run; that call must not use up an event.
   if id == 0 and not verified then
      verified = true
      return share[1]
   end
   if cursor > #share then
      return "" -- this thread's share is sent: the connection idles until the stop
   end
   local message = share[cursor]
   cursor = cursor + 1
   sent = sent + 1
   return message
end

function response(status, headers, body)
   answered = answered + 1
   if answered == #share then
      io.write("webhooks: thread " .. id .. " done\n")
      io.stdout:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local sent, answered = 0, 0
   for _, thread in ipairs(threads) do
      sent = sent + thread:get("sent")
      answered = answered + thread:get("answered")
   end
   io.write(string.format("webhooks: sent %d answered %d\n", sent, answered))
end
