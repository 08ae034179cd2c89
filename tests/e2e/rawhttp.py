"""
rawhttp.py - a byte-exact HTTP/1.x client for the tests: builds requests by
hand, reads responses with their framing visible (Content-Length, chunked,
close-delimited, truncated) and tells whether the peer closed the connection.
Every wait is bounded by a deadline.
"""

import re
import socket
import time

STATUS_RE = re.compile(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$")


def build_request(method, target, headers=None, body=None, version="HTTP/1.1", host=None):
    """Request bytes. A Host header is derived from an absolute target unless given."""
    headers = list(headers or [])
    names = {n.lower() for n, _ in headers}
    if "host" not in names and version == "HTTP/1.1":
        if host is None:
            m = re.match(r"^[a-zA-Z]+://([^/?#]+)", target)
            host = m.group(1) if m else "localhost"
        headers.insert(0, ("Host", host))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % (n, v) for n, v in headers) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def chunked(pieces):
    """Encodes an iterable of byte strings as a chunked body."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []
        self.body = b""
        self.head_length = 0
        self.wire_length = 0  # head + body framing as received
        self.chunked = False
        self.complete = False  # framing says the whole body arrived
        self.close_delimited = False

    def header(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def header_names(self):
        return {n.lower() for n, _ in self.headers}

    def tokens(self, name):
        """Comma-separated tokens of all headers called name, lower case."""
        out = []
        for v in self.header_all(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def __repr__(self):
        return "<Response %s %s %r body=%d bytes>" % (self.version, self.status, self.headers,
                                                      len(self.body))


class Closed(Exception):
    """The peer closed the connection before a response head arrived."""


class Conn:
    """One client connection with a read buffer (for pipelined responses).
    A slow reader sets read_size (bytes per recv) and read_pause (seconds
    after each)."""

    read_size = 262144
    read_pause = 0.0

    def __init__(self, port, addr="127.0.0.1", timeout=10.0, rcvbuf=None, source=None):
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if source:  # the client's own address, another of 127.0.0.0/8 say
            self.sock.bind((source, 0))
        if rcvbuf:  # before connecting: the window it offers follows it
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((addr, port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Sends data; a peer that already closed is not an error here."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def request(self, method, target, **kw):
        self.send(build_request(method, target, **kw))
        return self.read_response(method=method)

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from peer in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(self.read_size)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise TimeoutError("no data from peer in time") from None
        if not data:
            self.eof = True
            return False
        self.buf += data
        if self.read_pause:
            time.sleep(self.read_pause)
        return True

    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                return None
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                break
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, method="GET", timeout=None):
        """Reads one response (skipping 1xx). Raises Closed on EOF before a head."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self._read_one(method, deadline)
            if r.status >= 200 or r.status == 101:
                return r

    def _read_one(self, method, deadline):
        r = Response()
        line = self._read_line(deadline)
        if line is None:
            if self.buf:
                raise AssertionError("connection closed inside a status line: %r" % self.buf)
            raise Closed("connection closed before a response")
        m = STATUS_RE.match(line.rstrip(b"\r\n"))
        if not m:
            raise AssertionError("bad status line %r" % line)
        r.version = m.group(1).decode()
        r.status = int(m.group(2))
        r.reason = (m.group(3) or b"").decode("latin-1")
        r.head_length = len(line)
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise AssertionError("connection closed inside a response head")
            r.head_length += len(line)
            if line in (b"\r\n", b"\n"):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise AssertionError("bad header line %r" % line)
            r.headers.append((name.strip(), value.strip()))
        r.wire_length = r.head_length
        te = r.tokens("transfer-encoding")
        cl = r.header("content-length")
        if method == "HEAD" or r.status < 200 or r.status in (204, 304):
            r.complete = True
        elif "chunked" in te:
            r.chunked = True
            self._read_chunked(r, deadline)
        elif cl is not None:
            n = int(cl)
            r.body = self._read_exact(n, deadline)
            r.wire_length += len(r.body)
            r.complete = len(r.body) == n
        else:
            r.close_delimited = True
            while self._fill(deadline):
                pass
            r.body, self.buf = self.buf, b""
            r.wire_length += len(r.body)
            r.complete = True
        return r

    def _read_chunked(self, r, deadline):
        body = []
        while True:
            line = self._read_line(deadline)
            if line is None:
                break
            r.wire_length += len(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    t = self._read_line(deadline)
                    if t is None:
                        break
                    r.wire_length += len(t)
                    if t in (b"\r\n", b"\n"):
                        r.complete = True
                        break
                break
            data = self._read_exact(size, deadline)
            body.append(data)
            r.wire_length += len(data)
            if len(data) < size:
                break
            crlf = self._read_exact(2, deadline)
            r.wire_length += len(crlf)
            if crlf != b"\r\n":
                break
        r.body = b"".join(body)

    def wait_for(self, marker, timeout=None):
        """Reads until marker is in the buffer (not consumed); False on EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while marker not in self.buf:
            if not self._fill(deadline):
                return False
        return True

    def read_all(self, timeout=None):
        """Everything until the peer closes (bounded)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def closed_by_peer(self, timeout=3.0):
        """True if the peer closes (EOF or reset) within timeout with no more data.

        Extra bytes before the close are an error: the caller expected nothing.
        """
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            return False
        assert not self.buf, "unexpected bytes before close: %r" % self.buf[:200]
        return True


def is_error_body(r):
    """magpie's error responses: text/plain, Content-Length, 'magpie: <reason>\\n'."""
    ctype = (r.header("content-type") or "").split(";")[0].strip().lower()
    cl = r.header("content-length")
    return (ctype == "text/plain" and cl is not None and int(cl) == len(r.body)
            and re.match(rb"^magpie: [^\n]+\n$", r.body) is not None)


def fetch(port, method, target, addr="127.0.0.1", timeout=10.0, source=None, **kw):
    """One request on a fresh connection to addr:port (from source, when
    given); the response. kw goes to build_request (host= sets the Host
    header)."""
    with Conn(port, addr=addr, timeout=timeout, source=source) as c:
        return c.request(method, target, **kw)
