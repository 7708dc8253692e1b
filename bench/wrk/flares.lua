-- wrk script: one page of flares with their image counts.
-- wrk -t4 -c32 -d20s --latency -s bench/wrk/flares.lua http://127.0.0.1:8000/graphql
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ flares(first: 50) { pageInfo { hasNextPage endCursor } edges { node { id flareId peakTime goesClass peakCounts { kev410 } location { xArcsec yArcsec } imageCount } } } }"}]]

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    io.stderr:write("bad response: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
  end
end
