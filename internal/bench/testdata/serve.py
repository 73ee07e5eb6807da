# serve.py PORT: a plain HTTP/1.0 server (http.server, one request at a
# time), natively and in a box; prints "ready" once it listens.
import http.server
import sys


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), Hello)
print("ready", flush=True)
srv.serve_forever()
