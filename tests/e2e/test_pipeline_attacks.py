"""
test_pipeline_attacks.py - the exchange path attacked as a hostile client or
origin would: exchanges that end from inside a writer or a chain callback
(pipelined requests after hits, 304s, HEAD, 416, followers, a leader
behind its fetch), responses whose last bytes must still go out to a slow
reader, the order and framing of what is written, what the access log
counts, background refreshes and fetches that outlive their client, and
the order of the request hooks.
"""

import hashlib
import socket
import threading
import time
import urllib.parse

import pytest

import rawhttp

from conftest import poll
from origin import pattern
from rawhttp import Closed, build_request, fetch
from test_stalls import StallOrigin, read_head, small_conn
from test_tls_listener import tls_listen
from upstream_util import certs, client_context, magpie_listen_factory  # noqa: F401 (fixtures)

CC60 = "public, max-age=60"


class AttackOrigin(StallOrigin):
    """StallOrigin, plus a cacheable body that comes late."""

    def _h_late(self, req, n):
        """N bytes of pattern(), Content-Length, cacheable with an ETag,
        after ?delay= seconds."""
        n = int(n)
        q = urllib.parse.parse_qs(req.query)
        delay = float(q.get("delay", ["0"])[0])
        req.drain()
        if delay and self._stopping.wait(delay):
            return False
        self.send_head(req, 200, [("Content-Type", "application/octet-stream"),
                                  ("Cache-Control", CC60), ("ETag", '"e%d"' % n)], length=n)
        if req.method != "HEAD" and n:
            req.conn.sendall(pattern(n))
        return True


    def _h_early(self, req, n):
        """103 Early Hints and a 100 Continue, then N bytes of pattern(),
        chunked with ?chunked=1."""
        n = int(n)
        chunked = "chunked=1" in req.query
        req.drain()
        req.conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                         b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.05)
        self.send_head(req, 200, [("Content-Type", "application/octet-stream")],
                       length=None if chunked else n, chunked=chunked)
        body = pattern(n)
        req.conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (n, body) if chunked else body)
        return True

    def _h_badchunk(self, req):
        """A head and a broken chunk in one write: nothing of the response
        can have reached the client when magpie finds the chunk bad."""
        req.drain()
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         b"Content-Type: text/plain\r\n\r\nzz\r\nbroken\r\n")
        time.sleep(0.1)
        return False


@pytest.fixture
def origin():
    o = AttackOrigin()
    yield o
    o.stop()


def alive(m):
    assert m.alive(), m.exit_message(m.proc.poll())


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:  # reported by the caller
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _result(t, out):
    t.join(20)
    assert not t.is_alive(), "no answer in time"
    if "e" in out:
        raise out["e"]
    return out["r"]


# -- followers answered as the leader's head arrives --------------------------

@pytest.mark.parametrize("n, headers, status", [
    (0, [], 200),                                   # nothing to send after the head
    (5000, [("If-None-Match", '"e5000"')], 304),    # the client has it
    (5000, [("Range", "bytes=9000-")], 416),        # nothing of it is wanted
])
def test_follower_answered_by_the_head_alone(magpie, origin, n, headers, status):
    url = origin.url("/late/%d?delay=0.6" % n)
    lead = _in_thread(lambda: fetch(magpie.port, "GET", url, timeout=10))
    poll(lambda: origin.request_count() == 1)
    time.sleep(0.1)
    with magpie.conn() as c:
        c.send(build_request("GET", url, headers=headers))
        r = c.read_response()
        assert r.status == status, r
        assert r.body == b""
        assert "collapsed" in (r.header("cache-status") or ""), r
        # the connection goes on
        r2 = c.request("GET", origin.url("/bytes/10"))
        assert r2.status == 200 and r2.body == pattern(10)
    r0 = _result(*lead)
    assert r0.status == 200 and r0.body == pattern(n)
    assert origin.request_count() == 2
    alive(magpie)


# -- pipelined requests after answers that end inside the writer --------------

def _prime(m, url, times=2):
    """Stores url and reads it once from the file, so the next hit is a
    memory copy."""
    for _ in range(times):
        r = fetch(m.port, "GET", url)
        assert r.status == 200, r
    return r


def _read_n(c, methods, timeout=20):
    return [c.read_response(method=meth, timeout=timeout) for meth in methods]


@pytest.mark.parametrize("size", [100, 3 << 20])  # memory copy, file
def test_pipelined_hits_of_every_kind(magpie, origin, size):
    url = origin.url("/late/%d" % size)
    _prime(magpie, url)
    before = origin.request_count()
    reqs = [
        ("GET", []),
        ("GET", [("If-None-Match", '"e%d"' % size)]),      # 304
        ("HEAD", []),
        ("GET", [("Range", "bytes=%d-" % (size + 10))]),  # 416
        ("GET", [("Range", "bytes=5-9")]),                 # 206
        ("GET", []),
    ]
    with magpie.conn(timeout=20) as c:
        c.send(b"".join(build_request(meth, url, headers=h) for meth, h in reqs) +
               build_request("GET", origin.url("/bytes/7")))
        rs = _read_n(c, [meth for meth, _ in reqs] + ["GET"])
        assert [r.status for r in rs] == [200, 304, 200, 416, 206, 200, 200], rs
        assert rs[0].body == pattern(size) and rs[5].body == pattern(size)
        assert rs[1].body == b"" and rs[2].body == b"" and rs[3].body == b""
        assert rs[4].body == pattern(size)[5:10]
        assert rs[6].body == pattern(7)
        assert all(r.header("connection") == "keep-alive" for r in rs), rs
    assert origin.request_count() == before + 1
    alive(magpie)


def test_many_pipelined_memory_hits_in_one_send(magpie, origin):
    """Each hit is written whole at once, so each ends inside the write of
    the one before it: the next must still wait for the loop, whatever the
    number of them."""
    url = origin.url("/late/10")
    _prime(magpie, url, times=3)
    one = build_request("GET", url)
    n = (60 * 1024) // len(one)
    with magpie.conn(timeout=30) as c:
        # a first request that waits for the origin, so the hits queue up behind it
        c.send(build_request("GET", origin.url("/slow/0.3")) + one * n)
        r = c.read_response(timeout=20)
        assert r.status == 200 and r.body == b"slow\n"
        for i in range(n):
            r = c.read_response(timeout=20)
            assert r.status == 200 and r.body == pattern(10), (i, r)
    alive(magpie)


@pytest.mark.parametrize("size", [100, 3 << 20])
def test_client_closing_amid_pipelined_hits(magpie, origin, size):
    url = origin.url("/late/%d" % size)
    _prime(magpie, url)
    reqs = b"".join(build_request(meth, url, headers=h) for meth, h in [
        ("GET", []), ("GET", [("If-None-Match", '"e%d"' % size)]), ("HEAD", []),
        ("GET", [("Range", "bytes=%d-" % (size + 10))]), ("GET", [])] * 20)
    for cut in (0, 1, 2000, 20000):
        s = small_conn(magpie.port, rcvbuf=4096, timeout=5)
        s.sendall(reqs)
        got = 0
        while got < cut:
            d = s.recv(65536)
            assert d, "closed after %d bytes" % got
            got += len(d)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # a reset, with responses still going out
    time.sleep(0.3)
    r = fetch(magpie.port, "GET", url)
    assert r.status == 200 and r.body == pattern(size)
    alive(magpie)


# -- TLS clients ---------------------------------------------------------------

def _tls_conn(m, certs, rcvbuf=None, timeout=20):
    c = m.conn(timeout=timeout)
    if rcvbuf:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    c.sock = client_context(certs.ca).wrap_socket(c.sock, server_hostname="127.0.0.1")
    return c


@pytest.mark.parametrize("size", [100, 3 << 20])
def test_tls_pipelined_hits_of_every_kind(magpie_listen_factory, origin, certs, size):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)])
    url = origin.url("/late/%d" % size)
    with _tls_conn(m, certs) as c:
        for _ in range(2):
            assert c.request("GET", url).body == pattern(size)
        reqs = [("GET", []), ("GET", [("If-None-Match", '"e%d"' % size)]), ("HEAD", []),
                ("GET", [("Range", "bytes=%d-" % (size + 10))]), ("GET", [])]
        c.send(b"".join(build_request(meth, url, headers=h) for meth, h in reqs) +
               build_request("GET", origin.url("/bytes/7")))
        rs = _read_n(c, [meth for meth, _ in reqs] + ["GET"])
        assert [r.status for r in rs] == [200, 304, 200, 416, 200, 200], rs
        assert rs[0].body == pattern(size) and rs[4].body == pattern(size)
        assert rs[5].body == pattern(7)
    assert origin.request_count() == 2
    alive(m)


class SlowConn(rawhttp.Conn):
    """A rawhttp connection that takes at most `piece` bytes per read and
    sleeps `pause` after each."""

    piece = 4096
    pause = 0.0

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from peer in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(self.piece)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise TimeoutError("no data from peer in time") from None
        if not data:
            self.eof = True
            return False
        self.buf += data
        if self.pause:
            time.sleep(self.pause)
        return True


def slow_conn(port, rcvbuf, piece=4096, pause=0.0, timeout=40):
    c = SlowConn.__new__(SlowConn)
    c.sock = small_conn(port, rcvbuf=rcvbuf, timeout=timeout)
    c.timeout = timeout
    c.buf = b""
    c.eof = False
    c.piece, c.pause = piece, pause
    return c


def _slow_read(c, methods, pause=0.0, piece=4096, timeout=40):
    """Reads responses taking few bytes at a time."""
    c.__class__ = SlowConn
    c.piece, c.pause = piece, pause
    return [c.read_response(method=meth, timeout=timeout) for meth in methods]


@pytest.mark.parametrize("size", [300000, 2 << 20])
def test_tls_slow_reader_gets_every_hit_whole(magpie_listen_factory, origin, certs, size):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)])
    url = origin.url("/late/%d" % size)
    _prime_tls = _tls_conn(m, certs)
    with _prime_tls as c:
        for _ in range(2):
            assert c.request("GET", url).body == pattern(size)
    with _tls_conn(m, certs, rcvbuf=32768, timeout=30) as c:
        c.send(build_request("GET", url) * 2 + build_request("HEAD", url))
        rs = _slow_read(c, ["GET", "GET", "HEAD"], pause=0, piece=65536)
        assert [r.status for r in rs] == [200, 200, 200]
        assert all(len(r.body) == size for r in rs[:2])
        assert rs[0].body == pattern(size) and rs[1].body == pattern(size)
    alive(m)


# -- slow readers: the last bytes must go out -----------------------------------

@pytest.mark.parametrize("path, version", [
    ("/late/3000000", "HTTP/1.1"),     # file hit (after the first time)
    ("/late/300000", "HTTP/1.1"),      # memory hit
    ("/chunked/2000000", "HTTP/1.1"),  # relayed, chunked again
    ("/chunked/2000000", "HTTP/1.0"),  # relayed, close-delimited
    ("/nolength/2000000", "HTTP/1.1"),  # close-delimited from the origin, chunked to the client
])
def test_slow_reader_with_tiny_buffer_gets_the_last_byte(magpie, origin, path, version):
    url = origin.url(path)
    n = int(path.rsplit("/", 1)[1])
    for _ in range(2 if path.startswith("/late") else 0):
        assert fetch(magpie.port, "GET", url).body == pattern(n)
    with slow_conn(magpie.port, rcvbuf=2048) as c:
        c.send(build_request("GET", url, version=version))
        (r,) = _slow_read(c, ["GET"], pause=0.0005, piece=8192, timeout=40)
        assert r.status == 200 and r.complete, r
        assert len(r.body) == n and r.body == pattern(n)
        if version == "HTTP/1.0" and "chunked" in path:
            assert r.close_delimited
        if version == "HTTP/1.1" and "late" not in path:
            assert r.chunked
    alive(magpie)


def test_behind_leader_then_pipelined_requests(magpie, origin):
    """A leader whose client reads slowly reads the rest from the file and
    finishes as a hit; the requests pipelined behind it then go out in
    order, whole."""
    n = 8 << 20
    url = origin.url("/big/%d?cc=max-age%%3D300" % n)
    with slow_conn(magpie.port, rcvbuf=8192) as c:
        c.send(build_request("GET", url) + build_request("GET", url) +
               build_request("GET", origin.url("/bytes/7")))
        assert c.wait_for(b"\r\n\r\n")
        assert poll(lambda: "behind its fetch" in magpie.error_log_text(), timeout=10)
        rs = _slow_read(c, ["GET"] * 3, pause=0, piece=262144, timeout=40)
        assert [r.status for r in rs] == [200, 200, 200]
        assert len(rs[0].body) == n and hashlib.sha256(rs[0].body).digest() == \
            hashlib.sha256(pattern(n)).digest()
        assert rs[1].body == rs[0].body and "hit" in rs[1].header("cache-status")
        assert rs[2].body == pattern(7)
    alive(magpie)


# -- what the access log counts --------------------------------------------------

def _sent_of(m, pred):
    line = m.wait_access_line(pred)
    return int(line.split()[5])


def _raw_exchange(m, data, timeout=10):
    """Sends data on a new connection and reads everything until magpie
    closes it."""
    with m.conn(timeout=timeout) as c:
        c.send(data)
        return c.read_all(timeout=timeout)


@pytest.mark.parametrize("path, headers, method", [
    ("/bytes/5000", [], "GET"),                        # relayed, Content-Length
    ("/chunked/50000?chunk=1000", [], "GET"),          # relayed, chunked
    ("/late/5000", [], "GET"),                         # memory hit
    ("/late/3000000", [], "GET"),                      # file hit
    ("/late/5000", [("If-None-Match", '"e5000"')], "GET"),  # 304 hit
    ("/late/5000", [], "HEAD"),                        # HEAD hit
    ("/late/5000", [("Range", "bytes=9000-")], "GET"),  # 416 hit
    ("/late/5000", [("Range", "bytes=1-10")], "GET"),   # 206 hit
    ("/early/3000", [], "GET"),                        # interim responses, then relayed
    ("/early/3000?chunked=1", [], "GET"),
    ("/badchunk", [], "GET"),                          # 502 replacing a taken-back head
])
def test_access_log_sent_is_what_the_client_got(magpie, origin, path, headers, method):
    url = origin.url(path)
    if path.startswith("/late"):
        for _ in range(2):
            assert fetch(magpie.port, "GET", url).status == 200
    marker = "/x-%d" % time.monotonic_ns()
    url = url + ("&" if "?" in url else "?") + "m=" + marker if not path.startswith("/late") \
        else url
    n_before = len([l for l in magpie.access_log_lines() if (" %s " % url) in l])
    wire = _raw_exchange(magpie, build_request(method, url, headers=headers + [
        ("Connection", "close")]))
    assert wire.startswith(b"HTTP/1.1 "), wire[:100]
    if path == "/badchunk":
        assert wire.startswith(b"HTTP/1.1 502 "), wire[:200]
    if path.startswith("/early"):
        assert wire.startswith(b"HTTP/1.1 103 Early Hints\r\n"), wire[:200]

    def mine(l):
        return (" %s %s " % (method, url)) in l

    poll(lambda: len([l for l in magpie.access_log_lines() if mine(l)]) > n_before - (
        0 if method == "HEAD" else 0))
    lines = [l for l in magpie.access_log_lines() if mine(l)]
    assert lines, magpie.access_log_lines()[-5:]
    assert int(lines[-1].split()[5]) == len(wire), (lines[-1], len(wire))
    alive(magpie)


def test_access_log_counts_what_a_cut_hit_sent(magpie, origin):
    """A client that takes the first bytes of a large hit and leaves: the
    log says what went out, not the object's size."""
    n = 16 << 20
    url = origin.url("/late/%d" % n)
    for _ in range(2):
        assert fetch(magpie.port, "GET", url, timeout=20).status == 200
    s = small_conn(magpie.port, rcvbuf=4096, timeout=10)
    s.sendall(build_request("GET", url))
    head, rest = read_head(s)
    got = len(head) + 4 + len(rest)
    while got < 100000:
        d = s.recv(65536)
        assert d
        got += len(d)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    assert poll(lambda: len([l for l in magpie.access_log_lines() if url in l]) == 3, timeout=10)
    line = [l for l in magpie.access_log_lines() if url in l][-1]
    assert int(line.split()[5]) < n // 2, line
    alive(magpie)
