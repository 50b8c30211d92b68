-- wrk script: POST predict-payload with a rotating set of payloads
-- (mostly distinct values, so the cache does not answer everything).
local payloads = {
  "red shoes", "1' OR '1'='1", "<script>alert(1)</script>", "O'Brien",
  "../../../etc/passwd", "alice@example.com", "127.0.0.1;cat /etc/passwd",
  "select a dish from the menu", "42", "{\"a\":1}",
}
local token = os.getenv("SENTINEL_TOKEN") or ""
local n = 0
request = function()
  n = n + 1
  local p = payloads[(n % #payloads) + 1] .. " " .. tostring(n % 20000)
  local body = '{"payload":' .. string.format("%q", p):gsub("\\\n", "\\n") .. '}'
  return wrk.format("POST", "/api/v1/sentinel/predict-payload",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
