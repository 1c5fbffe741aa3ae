-- wrk script: each request is a synchronous Invoke with a small JSON event.
-- Usage: see README.md beside this file.
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"

-- A failed invocation must not count as throughput: wrk counts non-2xx
-- responses itself, but a function error comes back as 200 with
-- X-Amz-Function-Error, so those are counted here. Each wrk thread runs
-- its own copy of this script; done() adds up their counts.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  function_errors = 0
end

function response(status, headers, body)
  if headers["x-amz-function-error"] or headers["X-Amz-Function-Error"] then
    function_errors = function_errors + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("function_errors")
  end
  io.write(string.format("function errors: %d\n", n))
end
