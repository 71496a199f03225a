-- wrk script: PUT a 64-byte value to the request path (one key, replaced every time).
wrk.method = "PUT"
wrk.body = string.rep("v", 64)
wrk.headers["Content-Type"] = "application/octet-stream"
