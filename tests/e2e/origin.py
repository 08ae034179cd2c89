"""
origin.py - a small scriptable HTTP/1.1 origin for magpie's end-to-end tests.

Runs in-process (one thread per connection, raw sockets, so every byte on the
wire is under the test's control) on a free loopback port. Like the origin in
nginx-tests proxy_cache_lock.t it numbers its responses (X-Response-Number) and
counts TCP connections (X-Connection-Number), so a test can tell which request
really reached it and over which connection. Every request head it receives
is recorded in Origin.requests.

Endpoints (any method unless noted; HEAD gets the head of the GET answer):
  /echo               JSON: method, target, version, headers, body length and
                      sha256 (the body is read in a streaming way)
  /bytes/N            N bytes of pattern(), Content-Length
  /chunked/N          N bytes, Transfer-Encoding: chunked (?chunk=SIZE)
  /nolength/N         N bytes with no framing, then the connection closes
  /slow/SECONDS       waits, then answers "slow\\n"
  /drip/N/SECONDS     Content-Length N, body sent in 10 pieces over SECONDS
  /hang               reads the request, never answers
  /truncate/N         announces Content-Length N, sends N/2 bytes, closes
  /truncate-chunked/N chunked, sends about N/2 bytes, closes without the last chunk
  /headers?k=v&...    answers 200 with those response headers
  /status/CODE        answers with that status
  /count              JSON: connections and requests seen so far
"""

import hashlib
import json
import socket
import threading
import time
import urllib.parse
import uuid

_BLOCK = bytes(range(256)) * 256  # 64 KiB


def pattern(n):
    """The deterministic body served by /bytes/N and friends."""
    full, rest = divmod(n, len(_BLOCK))
    return _BLOCK * full + _BLOCK[:rest]


def pattern_iter(n, piece=len(_BLOCK)):
    """pattern(n) in pieces of at most piece bytes (the pattern runs on)."""
    off = 0
    while off < n:
        k = min(piece, n - off)
        start = off % 256
        yield _BLOCK[:k] if start == 0 and k <= len(_BLOCK) else pattern(start + k)[start:]
        off += k


def pattern_sha256(n):
    h = hashlib.sha256()
    for piece in pattern_iter(n):
        h.update(piece)
    return h.hexdigest()


REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}


class BadRequest(Exception):
    pass


class Request:
    """One request as received; the body is read on demand."""

    def __init__(self, conn, rfile, method, target, version, headers):
        self.conn = conn
        self.rfile = rfile
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value) as received
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = parsed.query
        self._body_done = False
        te = (self.header("transfer-encoding") or "").lower()
        self.chunked = "chunked" in te
        cl = self.header("content-length")
        self.content_length = int(cl) if cl is not None and not self.chunked else 0

    def header(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def keep_alive(self):
        conn = [t.strip().lower() for t in (self.header("connection") or "").split(",")]
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    def iter_body(self, piece=65536):
        """Yields the request body as it arrives (Content-Length or chunked)."""
        if self._body_done:
            return
        self._body_done = True
        if self.chunked:
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BadRequest("bad chunk size line")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                left = size
                while left:
                    data = self.rfile.read(min(piece, left))
                    if not data:
                        raise BadRequest("body truncated")
                    left -= len(data)
                    yield data
                self.rfile.readline(8)
        else:
            left = self.content_length
            while left:
                data = self.rfile.read1(min(piece, left))
                if not data:
                    raise BadRequest("body truncated")
                left -= len(data)
                yield data

    def drain(self):
        for _ in self.iter_body():
            pass


class Origin:
    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.responses = 0
        self.requests = []  # Request objects, in arrival order
        self._conns = set()
        self._threads = []
        self._stopping = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    # -- addresses -------------------------------------------------------

    @property
    def authority(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (h, self.port)

    def url(self, path="/"):
        return "http://%s%s" % (self.authority, path)

    def request_count(self):
        with self.lock:
            return len(self.requests)

    # -- life cycle --------------------------------------------------------

    def stop(self):
        self._stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(5)
        for t in list(self._threads):
            t.join(5)

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, number):
        conn.settimeout(60)
        rfile = conn.makefile("rb", buffering=65536)
        try:
            while not self._stopping.is_set():
                req = self._read_head(conn, rfile)
                if req is None:
                    break
                req.connection_number = number
                with self.lock:
                    self.requests.append(req)
                keep = self._dispatch(req)
                if not keep or not req.keep_alive():
                    break
                req.drain()
        except (OSError, BadRequest, ValueError):
            pass
        finally:
            with self.lock:
                self._conns.discard(conn)
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            rfile.close()
            conn.close()

    @staticmethod
    def _read_head(conn, rfile):
        line = rfile.readline(65536)
        while line in (b"\r\n", b"\n"):
            line = rfile.readline(65536)
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise BadRequest("bad request line")
        headers = []
        while True:
            h = rfile.readline(65536)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                return None
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                raise BadRequest("bad header line")
            headers.append((name.strip(), value.strip()))
        return Request(conn, rfile, parts[0], parts[1], parts[2], headers)

    # -- responses ---------------------------------------------------------

    def _next_number(self):
        with self.lock:
            self.responses += 1
            return self.responses

    def send_head(self, req, status, headers=(), length=None, chunked=False, close=False):
        n = self._next_number()
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        lines += ["%s: %s" % (k, v) for k, v in headers]
        lines.append("X-Response-Number: %d" % n)
        lines.append("X-Connection-Number: %d" % req.connection_number)
        if length is not None:
            lines.append("Content-Length: %d" % length)
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        if close or not req.keep_alive():
            lines.append("Connection: close")
        elif req.version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        req.conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return n

    def respond(self, req, status, body=b"", headers=(), close=False):
        """A complete response with Content-Length; returns keep-alive."""
        req.drain()
        self.send_head(req, status, headers, length=len(body), close=close)
        if req.method != "HEAD" and body:
            req.conn.sendall(body)
        return not close

    def _dispatch(self, req):
        parts = req.path.strip("/").split("/")
        name, args = parts[0], parts[1:]
        handler = getattr(self, "_h_" + name.replace("-", "_"), None)
        if handler is None:
            return self.respond(req, 404, b"no such endpoint\n", [("Content-Type", "text/plain")])
        return handler(req, *args)

    # -- endpoints -----------------------------------------------------------

    def _h_echo(self, req):
        h = hashlib.sha256()
        length = 0
        head = bytearray()
        for data in req.iter_body():
            h.update(data)
            length += len(data)
            if len(head) < 4096:
                head += data[: 4096 - len(head)]
        doc = {
            "method": req.method,
            "target": req.target,
            "path": req.path,
            "query": req.query,
            "version": req.version,
            "headers": req.headers,
            "chunked": req.chunked,
            "body_length": length,
            "body_sha256": h.hexdigest(),
            "body": head.decode("latin-1"),
            "connection_number": req.connection_number,
        }
        body = json.dumps(doc).encode()
        return self.respond(req, 200, body, [("Content-Type", "application/json")])

    def _h_bytes(self, req, n):
        n = int(n)
        req.drain()
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")], length=n)
        if req.method != "HEAD":
            for piece in pattern_iter(n):
                req.conn.sendall(piece)
        return True

    def _h_chunked(self, req, n):
        n = int(n)
        q = urllib.parse.parse_qs(req.query)
        size = int(q.get("chunk", ["4096"])[0])
        req.drain()
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")], chunked=True)
        if req.method == "HEAD":
            return True
        for piece in pattern_iter(n, size):
            req.conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        req.conn.sendall(b"0\r\n\r\n")
        return True

    def _h_nolength(self, req, n):
        n = int(n)
        req.drain()
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")], close=True)
        if req.method != "HEAD":
            for piece in pattern_iter(n, 16384):
                req.conn.sendall(piece)
        return False

    def _h_slow(self, req, seconds):
        req.drain()
        self._stopping.wait(float(seconds))
        return self.respond(req, 200, b"slow\n", [("Content-Type", "text/plain")])

    def _h_drip(self, req, n, seconds):
        n, seconds = int(n), float(seconds)
        req.drain()
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")], length=n)
        body = pattern(n)
        step = (n + 9) // 10
        for i in range(0, n, step):
            req.conn.sendall(body[i:i + step])
            if self._stopping.wait(seconds / 10):
                return False
        return True

    def _h_hang(self, req):
        req.drain()
        self._stopping.wait(60)
        return False

    def _h_truncate(self, req, n):
        n = int(n)
        req.drain()
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")], length=n)
        req.conn.sendall(pattern(n // 2))
        time.sleep(0.05)
        return False

    def _h_truncate_chunked(self, req, n):
        n = int(n)
        req.drain()
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")], chunked=True)
        for piece in pattern_iter(n // 2, 1000):
            req.conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        time.sleep(0.05)
        return False

    def _h_headers(self, req):
        headers = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
        return self.respond(req, 200, b"headers\n", headers)

    def _h_status(self, req, code):
        code = int(code)
        if code in (204, 304):
            req.drain()
            self.send_head(req, code)
            return True
        return self.respond(req, code, b"status %d\n" % code, [("Content-Type", "text/plain")])

    def _h_answer(self, req, code):
        """Status code with the header fields the query names: /answer/301?Location=..."""
        headers = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
        return self.respond(req, int(code), b"answer %s\n" % code.encode(), headers)

    def _h_hop(self, req, n):
        """/hop/N redirects (302) to /hop/N-1, which ... /hop/0 answers 200."""
        n = int(n)
        if n > 0:
            return self.respond(req, 302, b"to %d\n" % (n - 1), [("Location", "/hop/%d" % (n - 1))])
        return self.respond(req, 200, b"final\n", [("Content-Type", "text/plain")])

    def _h_long(self, req, n):
        """/long/N redirects to a path of N letters."""
        return self.respond(req, 302, b"long\n", [("Location", "/" + "a" * int(n))])

    def _h_loop(self, req, name):
        """/loop/a redirects to /loop/b, and /loop/b to /loop/a."""
        other = "b" if name == "a" else "a"
        return self.respond(req, 302, b"loop\n", [("Location", "/loop/" + other)])

    def _h_sign(self, req, name):
        """A download behind a freshly signed URL: /sign/NAME redirects (302, no
        freshness) to /signed/NAME?sig=<new each time>."""
        sig = uuid.uuid4().hex
        return self.respond(req, 302, b"", [("Location", "/signed/%s?sig=%s" % (name, sig))])

    def _h_signed(self, req, name):
        """The object: no validators and no freshness, as such stores send."""
        return self.respond(req, 200, b"blob " + name.encode() + b"\n" * 100,
                            [("Content-Type", "application/octet-stream")])

    def _h_plain(self, req, *rest):
        """Any path under /plain/: its name as the body, with no validators and no
        freshness at all, as many package mirrors serve files."""
        return self.respond(req, 200, ("/".join(rest) + "\n").encode(),
                            [("Content-Type", "application/octet-stream")])

    def _h_count(self, req):
        with self.lock:
            doc = {"connections": self.connections, "requests": len(self.requests)}
        return self.respond(req, 200, json.dumps(doc).encode(),
                            [("Content-Type", "application/json")])


if __name__ == "__main__":
    import sys

    o = Origin(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1")
    print("origin listening on", o.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        o.stop()
