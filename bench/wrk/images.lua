-- wrk script: one table page of images, the fields a frontend table needs
-- (ids, times, band, algorithm, peak, flare id, file link).
-- wrk -t4 -c32 -d20s --latency -s bench/wrk/images.lua http://127.0.0.1:8000/graphql
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ images(first: 50) { pageInfo { hasNextPage endCursor } edges { node { id kind algorithm energyLowKev energyHighKev timeStart timeEnd peak { xArcsec yArcsec } totalCounts fitsUrl pngUrl flare { id flareId } scienceFile { id requestUid } } } } }"}]]

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    io.stderr:write("bad response: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
  end
end
