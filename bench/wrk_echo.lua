-- POST a small JSON body to the echo route through the edge (bench/gateway.py).
wrk.method = "POST"
wrk.body = '{"message":"hello","count":3,"tags":["a","b"]}'
wrk.headers["Content-Type"] = "application/json"
