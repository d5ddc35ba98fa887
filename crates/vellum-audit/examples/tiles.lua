-- wrk script for the tile-serving benchmark (see tiles_bench.rs):
--   wrk -t1 -c64 -d15s -s tiles.lua http://127.0.0.1:7080 -- PATHS_FILE [COUNT]
-- Requests paths from PATHS_FILE (one per line, written by
-- `tiles_bench serve --paths FILE`) at random, limited to the first COUNT
-- (all by default): a small COUNT measures the hot (cached) case.
local paths = {}

function init(args)
  local file = args[1] or "tiles.paths"
  local limit = tonumber(args[2] or "0")
  for line in io.lines(file) do
    paths[#paths + 1] = line
    if limit > 0 and #paths >= limit then break end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
