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
import struct
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
RESET = struct.pack("ii", 1, 0)  # SO_LINGER: close() resets the connection


class AttackOrigin(StallOrigin):
    """StallOrigin, plus cacheable bodies that come late or answer
    revalidations, interim responses, and a body broken in its first
    write."""

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

    def _h_etag(self, req, n):
        """N bytes of pattern() with ETag "t" and the Cache-Control of ?cc=;
        304 to If-None-Match: "t"; ?fail=1 answers 500 to a revalidation."""
        n = int(n)
        q = urllib.parse.parse_qs(req.query)
        cc = q.get("cc", ["max-age=1"])[0]
        req.drain()
        if req.header("if-none-match") == '"t"':
            if q.get("fail", ["0"])[0] == "1":
                return self.respond(req, 500, b"down\n")
            self.send_head(req, 304, [("ETag", '"t"'), ("Cache-Control", cc)])
            return True
        self.send_head(req, 200, [("Content-Type", "application/octet-stream"),
                                  ("ETag", '"t"'), ("Cache-Control", cc)], length=n)
        if req.method != "HEAD":
            req.conn.sendall(pattern(n))
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


def test_followers_answered_at_the_head_with_requests_pipelined_behind(magpie, origin):
    """Followers answered by the head alone take their next request while
    the fetch's head is still being handled: one joins the same fetch
    again, others follow or go alone; every one is answered whole."""
    n = 200000
    url = origin.url("/late/%d?delay=0.6" % n)
    lead = _in_thread(lambda: fetch(magpie.port, "GET", url, timeout=10))
    poll(lambda: origin.request_count() == 1)
    time.sleep(0.1)
    conns = []
    for h in ([("If-None-Match", '"e%d"' % n)], [("Range", "bytes=%d-" % (n + 1))], []):
        c = magpie.conn()
        c.send(build_request("GET", url, headers=h) + build_request("GET", url) +
               build_request("GET", origin.url("/bytes/4")))
        conns.append(c)
    time.sleep(0.1)
    for c, first in zip(conns, (304, 416, 200)):
        with c:
            rs = _read_n(c, ["GET"] * 3)
            assert [r.status for r in rs] == [first, 200, 200], rs
            assert rs[1].body == pattern(n) and rs[2].body == pattern(4)
            assert "collapsed" in rs[0].header("cache-status"), rs[0]
    assert _result(*lead).body == pattern(n)
    assert len([q for q in origin.requests if q.path.startswith("/late/")]) == 1
    alive(magpie)


# -- pipelined requests after answers that end inside the writer --------------

def _prime(m, url, times=2):
    """Stores url and reads it once from the file, so the next hit is a
    memory copy."""
    for _ in range(times):
        r = fetch(m.port, "GET", url)
        assert r.status == 200, r
    return r


def _tls_conn(m, certs, rcvbuf=None, timeout=20):
    c = rawhttp.Conn(m.port, timeout=timeout, rcvbuf=rcvbuf)
    c.sock = client_context(certs.ca).wrap_socket(c.sock, server_hostname="127.0.0.1")
    return c


def _start(factory, certs, tls):
    """magpie on a plain or a TLS listener, and how to connect to it
    (conn(rcvbuf=None))."""
    if not tls:
        m = factory(lambda port: ["127.0.0.1:%d" % port])
        return m, lambda rcvbuf=None: rawhttp.Conn(m.port, timeout=20, rcvbuf=rcvbuf)
    m = factory(lambda port: [tls_listen(certs, port)])
    return m, lambda rcvbuf=None: _tls_conn(m, certs, rcvbuf=rcvbuf)


def _read_n(c, methods, timeout=20):
    return [c.read_response(method=meth, timeout=timeout) for meth in methods]


@pytest.mark.parametrize("size", [100, 3 << 20])  # memory copy, file
@pytest.mark.parametrize("tls", [False, True])
def test_pipelined_hits_of_every_kind(magpie_listen_factory, origin, certs, size, tls):
    m, conn = _start(magpie_listen_factory, certs, tls)
    url = origin.url("/late/%d" % size)
    with conn() as c:
        for _ in range(2):  # stored, then read once from the file: a memory copy
            assert c.request("GET", url).body == pattern(size)
    reqs = [
        ("GET", []),
        ("GET", [("If-None-Match", '"e%d"' % size)]),      # 304
        ("HEAD", []),
        ("GET", [("Range", "bytes=%d-" % (size + 10))]),  # 416
        ("GET", [("Range", "bytes=5-9")]),                 # 206
        ("GET", []),
    ]
    with conn() as c:
        c.send(b"".join(build_request(meth, url, headers=h) for meth, h in reqs) +
               build_request("GET", origin.url("/bytes/7")))
        rs = _read_n(c, [meth for meth, _ in reqs] + ["GET"])
        assert [r.status for r in rs] == [200, 304, 200, 416, 206, 200, 200], rs
        assert rs[0].body == pattern(size) and rs[5].body == pattern(size)
        assert rs[1].body == b"" and rs[2].body == b"" and rs[3].body == b""
        assert rs[4].body == pattern(size)[5:10]
        assert rs[6].body == pattern(7)
        assert all(r.header("connection") == "keep-alive" for r in rs), rs
    assert origin.request_count() == 2
    alive(m)


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
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        s.close()  # a reset, with responses still going out
    time.sleep(0.3)
    r = fetch(magpie.port, "GET", url)
    assert r.status == 200 and r.body == pattern(size)
    alive(magpie)


# -- TLS clients ---------------------------------------------------------------



def slow_conn(port, rcvbuf, piece=4096, pause=0.0, timeout=40):
    """A rawhttp connection with a small receive buffer that takes at most
    piece bytes per read and sleeps pause after each."""
    c = rawhttp.Conn(port, timeout=timeout, rcvbuf=rcvbuf)
    c.read_size, c.read_pause = piece, pause
    return c


def _slow_read(c, methods, pause=0.0, piece=4096, timeout=40):
    """Reads responses taking few bytes at a time."""
    c.read_size, c.read_pause = piece, pause
    return [c.read_response(method=meth, timeout=timeout) for meth in methods]


@pytest.mark.parametrize("size", [300000, 2 << 20])
def test_tls_slow_reader_gets_every_hit_whole(magpie_listen_factory, origin, certs, size):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)])
    url = origin.url("/late/%d" % size)
    with _tls_conn(m, certs) as c:
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
    if not path.startswith("/late"):
        url += ("&" if "?" in url else "?") + "m=%d" % time.monotonic_ns()

    def mine(l):
        return (" %s %s " % (method, url)) in l

    n_before = len([l for l in magpie.access_log_lines() if mine(l)])
    wire = _raw_exchange(magpie, build_request(method, url, headers=headers + [
        ("Connection", "close")]))
    assert wire.startswith(b"HTTP/1.1 "), wire[:100]
    if path == "/badchunk":
        assert wire.startswith(b"HTTP/1.1 502 "), wire[:200]
    if path.startswith("/early"):
        assert wire.startswith(b"HTTP/1.1 103 Early Hints\r\n"), wire[:200]
    assert poll(lambda: len([l for l in magpie.access_log_lines() if mine(l)]) > n_before)
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
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
    s.close()
    assert poll(lambda: len([l for l in magpie.access_log_lines() if url in l]) == 3, timeout=10)
    line = [l for l in magpie.access_log_lines() if url in l][-1]
    assert int(line.split()[5]) < n // 2, line
    alive(magpie)


# -- followers finishing, fetches going on without clients ------------------------

def test_slow_follower_finishes_after_the_fetch_then_takes_its_next_request(magpie, origin):
    """The fetch ends while the follower's writer still holds a piece of
    the file: the follower sends the rest, then its pipelined request."""
    n = 4 << 20
    url = origin.url("/big/%d?cc=max-age%%3D300&delay=0.5" % n)
    lead = _in_thread(lambda: fetch(magpie.port, "GET", url, timeout=20))
    poll(lambda: origin.request_count() == 1)
    with slow_conn(magpie.port, rcvbuf=8192, piece=65536) as c:
        c.send(build_request("GET", url) + build_request("GET", origin.url("/bytes/7")))
        assert c.wait_for(b"\r\n\r\n", timeout=10)
        r0 = _result(*lead)
        assert r0.status == 200 and len(r0.body) == n
        r, nxt = _slow_read(c, ["GET", "GET"], piece=65536)
        assert "collapsed" in r.header("cache-status"), r
        assert len(r.body) == n and r.body == r0.body
        assert nxt.status == 200 and nxt.body == pattern(7)
    assert len([q for q in origin.requests if q.path.startswith("/big/")]) == 1
    alive(magpie)


@pytest.mark.parametrize("client_leaves", [True, False])
def test_stale_while_revalidate_with_pipelined_stale_hits(magpie, origin, client_leaves):
    """Stale hits pipelined: one background refresh, stored, whether the
    client reads them or resets the connection before any is written."""
    cc = urllib.parse.quote("max-age=1, stale-while-revalidate=30")
    url = origin.url("/headers?Cache-Control=%s&ETag=%%22v%%22" % cc)
    first = fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    before = origin.request_count()
    reqs = build_request("GET", url) * 3 + build_request("HEAD", url)
    if client_leaves:
        s = socket.create_connection(("127.0.0.1", magpie.port))
        s.sendall(reqs)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        s.close()
    else:
        with magpie.conn() as c:
            c.send(reqs)
            rs = _read_n(c, ["GET"] * 3 + ["HEAD"])
            assert all(r.status == 200 for r in rs)
            assert all(r.body == b"headers\n" for r in rs[:3])
            assert "stale-while-revalidate" in rs[0].header("cache-status"), rs[0]
    assert poll(lambda: origin.request_count() == before + 1, timeout=5)
    time.sleep(0.3)
    assert origin.request_count() == before + 1, "one refresh"
    assert origin.requests[-1].header("if-none-match") == '"v"'
    # the refresh was stored (it may be stale again already: max-age is 1 s)
    r = fetch(magpie.port, "GET", url)
    assert r.status == 200 and r.header("x-cache") in ("HIT", "STALE"), r
    assert int(r.header("x-response-number")) > int(first.header("x-response-number"))
    alive(magpie)


@pytest.mark.parametrize("chunked", [False, True])
def test_client_leaving_a_stored_fetch_mid_body_with_requests_pipelined(magpie, origin, chunked):
    n = 6 << 20
    url = origin.url("/big/%d?cc=max-age%%3D300%s" % (n, "&chunked=1" if chunked else ""))
    s = small_conn(magpie.port, rcvbuf=8192, timeout=10)
    s.sendall(build_request("GET", url) + build_request("GET", url) * 3)
    head, rest = read_head(s)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
    s.close()
    magpie.wait_error_log(r"goes on for the cache", timeout=5)

    def stored():
        r = fetch(magpie.port, "GET", url, timeout=20, headers=[("Cache-Control",
                                                                  "only-if-cached")])
        return r.status == 200 and r

    r = poll(stored, timeout=15, step=0.2)
    assert r and len(r.body) == n and r.body == pattern(n)
    assert len([q for q in origin.requests if q.path.startswith("/big/")]) == 1
    alive(magpie)


def test_tls_client_leaving_while_behind_its_fetch(magpie_listen_factory, origin, certs):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)])
    n = 8 << 20
    url = origin.url("/big/%d?cc=max-age%%3D300&pace=0.05" % n)
    c = _tls_conn(m, certs, rcvbuf=8192)
    c.send(build_request("GET", url) + build_request("GET", origin.url("/bytes/9")))
    assert c.wait_for(b"\r\n\r\n")
    assert poll(lambda: "behind its fetch" in m.error_log_text(), timeout=10)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
    c.close()
    m.wait_error_log(r"goes on for the cache", timeout=5)
    with _tls_conn(m, certs) as c2:
        r = poll(lambda: (lambda r: r.status == 200 and r)(
            c2.request("GET", url, headers=[("Cache-Control", "only-if-cached")])),
            timeout=15, step=0.2)
        assert r and r.body == pattern(n)
    alive(m)


# -- request hooks: who answers first, and what the connection does after ----------

def _answers(m, reqs):
    """Sends reqs pipelined on one connection; the responses, and whether
    magpie closed the connection after them."""
    with m.conn() as c:
        c.send(b"".join(reqs))
        out = []
        for _ in reqs:
            try:
                out.append(c.read_response())
            except Closed:
                break
        return out, c.closed_by_peer(timeout=1)


def test_acl_denial_comes_before_every_other_hook(magpie_factory, origin):
    m = magpie_factory(acl={"allow": ["10.0.0.0/8"]})
    for req in [build_request("GET", origin.url("/bytes/1"), headers=[("Via", "1.1 magpie-test")]),
                build_request("PURGE", origin.url("/bytes/1")),
                build_request("CONNECT", "127.0.0.1:25", host="127.0.0.1:25"),
                build_request("GET", "/x", host="no-route.example"),
                build_request("POST", origin.url("/echo"), body=b"abc")]:
        rs, closed = _answers(m, [req, build_request("GET", origin.url("/bytes/1"))])
        assert [r.status for r in rs] == [403], (req, rs)
        assert "not allowed" in rs[0].body.decode()
        assert closed
    assert origin.request_count() == 0


@pytest.mark.parametrize("req, status, keeps", [
    # a loop is found before routing, bodiless: answered, the connection kept
    (build_request("GET", "/x", host="api.local", headers=[("Via", "1.0 a, 1.1 magpie-test")]),
     508, True),
    # with a body that would follow: closed
    (build_request("POST", "/echo", host="api.local", headers=[("Via", "1.1 magpie-test")],
                   body=b"abc"), 508, False),
    (build_request("PURGE", "/nothing", host="api.local"), 404, True),
    (build_request("CONNECT", "127.0.0.1:25", host="127.0.0.1:25"), 403, False),
    # a bad head: what follows cannot be trusted to be a request
    (build_request("GET", "/x", version="HTTP/1.1", headers=[("Host", "a"), ("Host", "b")]),
     400, False),
])
def test_hook_answers_and_the_connection_after_them(magpie, origin, req, status, keeps):
    rs, closed = _answers(magpie, [req, build_request("GET", origin.url("/bytes/3"))])
    assert rs and rs[0].status == status, rs
    assert rs[0].header("connection") == ("keep-alive" if keeps else "close"), rs[0]
    if keeps:
        assert len(rs) == 2 and rs[1].status == 200 and rs[1].body == pattern(3), rs
    else:
        assert len(rs) == 1 and closed
    assert origin.request_count() == (1 if keeps else 0)
    alive(magpie)


def test_purge_from_a_disallowed_address_is_403_and_keeps_the_connection(magpie_factory,
                                                                          origin):
    m = magpie_factory(admin={"purge_allow": ["10.0.0.0/8"]})
    url = origin.url("/late/10")
    fetch(m.port, "GET", url)
    rs, closed = _answers(m, [build_request("PURGE", url), build_request("GET", url)])
    assert [r.status for r in rs] == [403, 200], rs
    assert rs[1].header("x-cache") == "HIT"
    assert not closed


# -- the store answering instead of the origin, with requests pipelined after -----

@pytest.mark.parametrize("size", [100, 3 << 20])
@pytest.mark.parametrize("tls", [False, True])
def test_revalidated_and_stale_if_error_answers_then_pipelined(magpie_listen_factory, origin,
                                                              certs, size, tls):
    m, conn = _start(magpie_listen_factory, certs, tls)
    url = origin.url("/etag/%d" % size)
    bad = origin.url("/etag/%d?fail=1&cc=max-age%%3D1%%2C%%20stale-if-error%%3D60" % size)
    with conn() as c:
        for u in (url, url, bad, bad):  # stored, then read once more (a memory copy)
            assert c.request("GET", u).body == pattern(size)
    time.sleep(1.2)
    with conn() as c:
        c.send(build_request("GET", url) + build_request("GET", bad) +
               build_request("HEAD", url) + build_request("GET", url) +
               build_request("GET", origin.url("/bytes/5")))
        rs = _read_n(c, ["GET", "GET", "HEAD", "GET", "GET"])
        assert [r.status for r in rs] == [200] * 5, rs
        assert "fwd-status=304" in rs[0].header("cache-status"), rs[0]
        assert "fwd-status=500" in rs[1].header("cache-status"), rs[1]
        assert rs[0].body == pattern(size) and rs[1].body == pattern(size)
        assert rs[2].body == b"" and rs[3].body == pattern(size)
        assert rs[4].body == pattern(5)
    alive(m)


# -- everything at once ---------------------------------------------------------------

@pytest.mark.parametrize("tls", [False, True])
def test_random_pipelines_with_clients_leaving(magpie_listen_factory, origin, certs, tls):
    """Clients pipelining hits, misses, conditionals, ranges, HEAD, PURGE
    and local answers on a few URLs being fetched, followed and purged,
    some reading slowly and some leaving at random points: magpie stays up
    (the sanitizers watch), and a client that reads everything gets every
    response whole and in order."""
    import random
    m, conn = _start(magpie_listen_factory, certs, tls)
    sizes = [0, 10, 5000, 300000, 2 << 20]
    urls = [origin.url("/late/%d?delay=%s" % (n, d)) for n in sizes for d in ("0", "0.2")]
    rng = random.Random(1234)

    def pick():
        u = rng.choice(urls)
        n = int(u.split("/late/")[1].split("?")[0])
        kind = rng.choice(["get", "get", "get", "inm", "head", "range", "badrange", "purge",
                           "loop", "miss"])
        if kind == "inm":
            return "GET", u, [("If-None-Match", '"e%d"' % n)], (200, 304)
        if kind == "head":
            return "HEAD", u, [], (200,)
        if kind == "range":
            return "GET", u, [("Range", "bytes=0-3")], (200, 206, 416)
        if kind == "badrange":
            return "GET", u, [("Range", "bytes=%d-" % (n + 5))], (200, 416)
        if kind == "purge":
            return "PURGE", u, [], (200, 404)
        if kind == "loop":
            return "GET", u, [("Via", "1.1 magpie-test")], (508,)
        if kind == "miss":
            return "GET", origin.url("/bytes/%d" % rng.choice([0, 7, 70000])), [], (200,)
        return "GET", u, [], (200,)

    def one_client(seed):
        r = random.Random(seed)
        reqs = [pick() for _ in range(r.randint(1, 6))]
        leave = r.random() < 0.4
        c = conn(rcvbuf=r.choice([None, 65536]))
        with c:
            c.send(b"".join(build_request(meth, u, headers=h) for meth, u, h, _ in reqs))
            if leave:
                time.sleep(r.random() * 0.3)
                if r.random() < 0.5:
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
                return None
            for meth, u, h, ok in reqs:
                resp = c.read_response(method=meth, timeout=8)
                assert resp.status in ok, (meth, u, h, resp)
                if resp.status == 200 and meth == "GET" and "/late/" in u:
                    n = int(u.split("/late/")[1].split("?")[0])
                    assert resp.body == pattern(n), (u, len(resp.body))
        return None

    deadline = time.monotonic() + 6
    seed = 0
    while time.monotonic() < deadline:
        ts = [_in_thread(lambda s=seed + i: one_client(s)) for i in range(12)]
        seed += 12
        for t in ts:
            _result(*t)
        alive(m)


def test_pipelined_hits_ending_in_close_drop_what_follows(magpie, origin):
    url = origin.url("/late/5000")
    _prime(magpie, url)
    with magpie.conn() as c:
        c.send(build_request("GET", url, version="HTTP/1.0", headers=[("Connection",
                                                                       "keep-alive")]) +
               build_request("GET", url, headers=[("Connection", "close")]) +
               build_request("GET", origin.url("/bytes/3")))
        r1 = c.read_response()
        r2 = c.read_response()
        assert r1.status == r2.status == 200
        assert r1.body == r2.body == pattern(5000)
        assert r1.header("connection") == "keep-alive" and r2.header("connection") == "close"
        assert c.closed_by_peer()
    assert not any(q.path == "/bytes/3" for q in origin.requests)
    alive(magpie)
