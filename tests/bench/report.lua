-- tests/bench/report.lua: wrk script of tests/bench/run: an optional request body, and one machine-readable summary line.
--
-- BENCH_BODY (when set and not empty) turns the request into a POST with that body and
-- BENCH_CONTENT_TYPE (default application/json); headers such as Authorization or Cookie come
-- from wrk's -H.  done() prints `bench: key=value ...` with the latency percentiles in
-- microseconds, so tests/bench/run needs no parsing of wrk's human units.

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
	wrk.method = "POST"
	wrk.body = body
	wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end

-- BENCH_UNIQUE=PREFIX makes every request a sign-up of its own (POST /api/v1/users): a
-- username PREFIX<thread>x<n>, never the same twice, so each answer is a 201, not a 409.
local unique = os.getenv("BENCH_UNIQUE")
if unique ~= nil and unique ~= "" then
	local threads = 0
	function setup(thread)
		threads = threads + 1
		thread:set("tid", threads)
	end
	local n = 0
	function request()
		n = n + 1
		local name = string.format("%s%dx%d", unique, tid, n)
		return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
			string.format('{"username":"%s","email":"%s@example.com",' ..
				'"password":"Bench-Sign-Up-Pass-7361"}', name, name))
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"bench: requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
		"non2xx3xx=%d connect=%d read=%d write=%d timeout=%d\n",
		summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), latency.max,
		e.status, e.connect, e.read, e.write, e.timeout))
end
