"""
test_stalls.py - a stalled peer cuts nobody else's download (issue 9, item 6).

(a) The origin's read_timeout runs only while magpie waits on the origin: a
    client that pauses longer than read_timeout keeps its download, a client
    stalled past client_idle_timeout is closed by its own timer, and the log
    says so; an origin that does not read the request body is the origin's
    timeout, a client that does not send it is the client's.
(b) A collapsed fetch is paced by nobody: its leader's client that stops
    reading, or leaves, is dropped alone; followers get the whole body and the
    object is stored.
(c) A request body is read before an origin connection is taken (up to
    64 KiB), so a client that stalls its body holds no pool slot; a stalled
    body gets 408 after client_idle_timeout.
"""

import hashlib
import re
import signal
import socket
import threading
import time
import urllib.parse

import pytest

from conftest import poll
from origin import Origin, pattern, pattern_iter
from rawhttp import build_request, fetch
from test_tls_listener import tls_listen
from upstream_util import certs, client_context, magpie_listen_factory  # noqa: F401 (fixtures)

MB = 1 << 20
BIG = 20 * MB
CACHEABLE = "max-age=300"


class StallOrigin(Origin):
    """The tests' origin, plus endpoints that send big bodies fast."""

    def __init__(self):
        super().__init__("127.0.0.1")
        self.send_failures = 0  # responses cut by magpie closing the connection

    def _h_big(self, req, n):
        """N bytes of pattern() as fast as the socket takes them, with the
        Cache-Control of ?cc= (no-store by default), after ?delay= seconds,
        ?pace= seconds per MiB, cut after ?cut= bytes (the connection then
        closes, or with ?hang=1 stays open and silent), ?chunked=1 for a
        chunked body."""
        n = int(n)
        q = urllib.parse.parse_qs(req.query)
        cc = q.get("cc", ["no-store"])[0]
        delay = float(q.get("delay", ["0"])[0])
        cut = int(q.get("cut", [str(n)])[0])
        pace = float(q.get("pace", ["0"])[0])
        hang = q.get("hang", ["0"])[0] == "1"
        chunked = q.get("chunked", ["0"])[0] == "1"
        req.drain()
        if delay and self._stopping.wait(delay):
            return False
        self.send_head(req, 200, [("Content-Type", "application/octet-stream"),
                                  ("Cache-Control", cc)], length=None if chunked else n,
                       chunked=chunked)
        sent = 0
        try:
            for piece in pattern_iter(n):
                piece = piece[:cut - sent]
                if not piece:
                    if hang:
                        self._stopping.wait(20)
                    time.sleep(0.05)
                    return False
                req.conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
                if pace and sent % MB == 0:
                    time.sleep(pace)
            if chunked:
                req.conn.sendall(b"0\r\n\r\n")
        except OSError:
            with self.lock:
                self.send_failures += 1
            raise
        return True

    def _h_noread(self, req):
        """Reads the head, never the body, and never answers."""
        self._stopping.wait(30)
        return False


@pytest.fixture
def origin():
    o = StallOrigin()
    yield o
    o.stop()


def small_conn(port, rcvbuf=65536, timeout=30):
    """A client socket with a small receive buffer, so that magpie, not the
    kernel, holds what the client does not read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def read_head(s):
    """(head bytes, body bytes already read)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(65536)
        if not got:
            raise AssertionError("closed before a head: %r" % data[:200])
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def read_body(s, have, n, deadline):
    """Reads until n body bytes (have is what came with the head); returns
    (sha256, length) of what arrived before the peer closed or n was reached."""
    h = hashlib.sha256(have)
    got = len(have)
    while got < n:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = s.recv(min(262144, n - got))
        except (ConnectionResetError, socket.timeout):
            break
        if not data:
            break
        h.update(data)
        got += len(data)
    return h.hexdigest(), got


def read_some(s, have, n):
    """Reads until at least n body bytes came; the bytes read."""
    buf = bytearray(have)
    while len(buf) < n:
        data = s.recv(65536)
        if not data:
            raise AssertionError("closed after %d body bytes" % len(buf))
        buf += data
    return bytes(buf)


def sha(n):
    h = hashlib.sha256()
    for piece in pattern_iter(n):
        h.update(piece)
    return h.hexdigest()


def get(target, host=None):
    return build_request("GET", target, host=host)


# -- (a) timers ------------------------------------------------------------------

def test_client_pause_beyond_read_timeout_keeps_its_download(magpie_factory, origin):
    """The issue's case: an uncacheable 20 MB download, read_timeout 1s, the
    client reads 1 MB, pauses 3 s, reads the rest: it gets all of it."""
    m = magpie_factory(upstream={"read_timeout": "1s"}, limits={"client_idle_timeout": "10s"})
    s = small_conn(m.port)
    try:
        s.sendall(get(origin.url("/big/%d" % BIG)))
        head, rest = read_head(s)
        assert head.startswith(b"HTTP/1.1 200"), head
        first = read_some(s, rest, MB)
        time.sleep(3)
        digest, got = read_body(s, first, BIG, time.monotonic() + 30)
    finally:
        s.close()
    assert got == BIG, "download cut at %d bytes of %d" % (got, BIG)
    assert digest == sha(BIG)
    assert "sent nothing" not in m.error_log_text()


def test_client_stalled_past_idle_timeout_is_closed_by_its_own_timer(magpie_factory, origin):
    m = magpie_factory(upstream={"read_timeout": "1s"}, limits={"client_idle_timeout": "2s"})
    s = small_conn(m.port)
    try:
        s.sendall(get(origin.url("/big/%d" % BIG)))
        read_head(s)
        t0 = time.monotonic()
        m.wait_error_log(r"client stalled: nothing read for 2s", timeout=8)
        assert time.monotonic() - t0 >= 1.5
    finally:
        s.close()
    log = m.error_log_text()
    assert "sent nothing" not in log, "the origin was blamed for the client's stall"
    assert "goes on for the cache" not in log, "an uncacheable response outlived its client"


def test_slow_request_body_is_the_clients_not_the_origins(magpie_factory, origin):
    """A pause in a large request body longer than read_timeout (shorter
    than client_idle_timeout) is no origin timeout."""
    m = magpie_factory(upstream={"read_timeout": "1s"}, limits={"client_idle_timeout": "10s"})
    n = MB
    body = pattern(n)
    with m.conn(timeout=20) as c:
        c.send(build_request("POST", origin.url("/echo"),
                             headers=[("Content-Length", str(n))]) + body[:200000])
        time.sleep(2.5)
        c.send(body[200000:])
        r = c.read_response()
    assert r.status == 200, r
    assert hashlib.sha256(body).hexdigest() in r.body.decode()


def test_origin_not_reading_the_body_is_the_origins_timeout(magpie_factory, origin):
    """The request body waits because the origin does not read it: the
    client is held back by magpie, so its idle timer does not fire; the
    origin's read_timeout does (504, blaming the origin)."""
    m = magpie_factory(upstream={"read_timeout": "2s"}, limits={"client_idle_timeout": "1s"})
    n = 64 * MB
    s = socket.create_connection(("127.0.0.1", m.port), timeout=20)

    def push():
        try:
            s.sendall(build_request("POST", origin.url("/noread"),
                                    headers=[("Content-Length", str(n))]))
            for piece in pattern_iter(n):
                s.sendall(piece)
        except OSError:
            pass

    t = threading.Thread(target=push, daemon=True)
    t.start()
    try:
        m.wait_error_log(r"504 upstream \S+ sent nothing for 2s", timeout=15)
    finally:
        s.close()
        t.join(5)
    assert "client stalled" not in m.error_log_text()


# -- (b) collapsed fetches -------------------------------------------------------

def cache_config(**extra):
    cfg = {"limits": {"client_idle_timeout": "30s"}, "upstream": {"read_timeout": "5s"},
           "cache": {"max_object_size": "64MiB"}}
    cfg.update(extra)
    return cfg


def start_leader(m, origin, path):
    """A leader that reads 1 MB of path and then nothing: its socket and
    the body bytes it read."""
    s = small_conn(m.port)
    s.sendall(get(origin.url(path)))
    head, rest = read_head(s)
    assert head.startswith(b"HTTP/1.1 200"), head
    return s, read_some(s, rest, MB)


def reset(s):
    """Closes with a reset (SO_LINGER 0): magpie sees the client gone at once."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def followers(m, origin, path, n, deadline):
    """n clients fetching path at once; their (status, length, sha256, header)."""
    out = [None] * n

    def one(i):
        s = socket.create_connection(("127.0.0.1", m.port), timeout=30)
        try:
            s.sendall(get(origin.url(path)))
            head, rest = read_head(s)
            status = int(head.split(b" ", 2)[1])
            digest, got = read_body(s, rest, BIG, deadline)
            out[i] = (status, got, digest, head.decode("latin-1").lower())
        finally:
            s.close()

    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic() + 1))
    return out


def assert_hit(m, origin, path):
    with m.conn(timeout=20) as c:
        r = c.request("GET", origin.url(path))
    assert r.status == 200 and len(r.body) == BIG, r
    assert hashlib.sha256(r.body).hexdigest() == sha(BIG)
    assert "hit" in (r.header("cache-status") or ""), r.header("cache-status")


def origin_requests(origin, path):
    return len([r for r in origin.requests if r.path == path.split("?")[0]])


def test_followers_are_not_paced_by_a_leader_that_stops_reading(magpie_factory, origin):
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s" % (BIG, CACHEABLE)
    leader, first = start_leader(m, origin, path)
    try:
        t0 = time.monotonic()
        got = followers(m, origin, path, 3, t0 + 15)
        took = time.monotonic() - t0
        for g in got:
            assert g is not None and g[0] == 200 and g[1] == BIG and g[2] == sha(BIG), g and g[:3]
            assert "collapsed" in g[3]
        assert took < 15, "followers took %.1fs" % took
        assert origin_requests(origin, path) == 1
        assert_hit(m, origin, path)
        # the leader reads on from its offset and gets the whole body too
        digest, n = read_body(leader, first, BIG, time.monotonic() + 20)
    finally:
        leader.close()
    assert n == BIG and digest == sha(BIG)
    assert origin_requests(origin, path) == 1


def test_leader_stalled_past_idle_timeout_is_dropped_alone(magpie_factory, origin):
    """The leader's own timer closes it mid-fetch; the fetch goes on, its
    followers finish and the object is stored."""
    m = magpie_factory(**cache_config(limits={"client_idle_timeout": "2s"}))
    path = "/big/%d?cc=%s&pace=0.25" % (BIG, CACHEABLE)
    leader, _ = start_leader(m, origin, path)
    try:
        got = followers(m, origin, path, 3, time.monotonic() + 20)
        for g in got:
            assert g is not None and g[0] == 200 and g[1] == BIG and g[2] == sha(BIG), g and g[:3]
        log = m.error_log_text()
        assert re.search(r"client stalled: nothing read for 2s", log), log[-3000:]
        assert "goes on for the cache" in log
    finally:
        leader.close()
    assert_hit(m, origin, path)
    assert origin_requests(origin, path) == 1


def test_leader_reading_late_gets_the_exact_body(magpie_factory, origin):
    """Bytes sent from the client buffer, then from the file from the
    leader's own offset: nothing lost, nothing twice."""
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s" % (BIG, CACHEABLE)
    s = small_conn(m.port)
    try:
        s.sendall(get(origin.url(path)))
        head, rest = read_head(s)
        assert b"content-length: %d" % BIG in head.lower()
        first = read_some(s, rest, MB // 2)
        assert poll(lambda: "behind its fetch" in m.error_log_text(), timeout=10)
        time.sleep(1)
        digest, got = read_body(s, first, BIG, time.monotonic() + 30)
    finally:
        s.close()
    assert got == BIG and digest == sha(BIG)


def test_tls_leader_reading_late_gets_the_exact_body(magpie_listen_factory, origin, certs):
    """The same through a TLS listener: the file is read through the client
    buffer instead of sendfile."""
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)], **cache_config())
    path = "/big/%d?cc=%s" % (BIG, CACHEABLE)
    s = client_context(certs.ca).wrap_socket(small_conn(m.port), server_hostname="127.0.0.1")
    try:
        s.sendall(get(origin.url(path)))
        head, rest = read_head(s)
        first = read_some(s, rest, MB // 2)
        assert poll(lambda: "behind its fetch" in m.error_log_text(), timeout=10)
        digest, got = read_body(s, first, BIG, time.monotonic() + 30)
    finally:
        s.close()
    assert got == BIG and digest == sha(BIG)


def test_leader_leaving_mid_body_does_not_end_the_fetch(magpie_factory, origin):
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s&pace=0.1" % (BIG, CACHEABLE)
    leader, _ = start_leader(m, origin, path)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=followers(m, origin, path, 3,
                                                               time.monotonic() + 20)))
    t.start()
    time.sleep(0.3)
    reset(leader)
    t.join(25)
    for g in out["r"]:
        assert g is not None and g[0] == 200 and g[1] == BIG and g[2] == sha(BIG), g and g[:3]
    m.wait_error_log(r"; the fetch of \S+ goes on for the cache")
    assert_hit(m, origin, path)
    assert origin_requests(origin, path) == 1


def test_storable_fetch_left_by_its_only_client_is_stored(magpie_factory, origin):
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s&pace=0.1" % (BIG, CACHEABLE)
    reset(start_leader(m, origin, path)[0])
    m.wait_error_log(r"goes on for the cache")
    assert poll(lambda: "closed: done" in m.error_log_text().split("goes on for the cache")[-1],
                timeout=20)
    assert_hit(m, origin, path)
    assert origin_requests(origin, path) == 1


def test_leader_leaving_before_the_head_keeps_its_followers_on_one_fetch(magpie_factory,
                                                                         origin):
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s&delay=1" % (BIG, CACHEABLE)
    leader = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    leader.sendall(get(origin.url(path)))
    assert poll(lambda: origin_requests(origin, path) == 1)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=followers(m, origin, path, 3,
                                                               time.monotonic() + 20)))
    t.start()
    time.sleep(0.3)
    reset(leader)
    t.join(25)
    for g in out["r"]:
        assert g is not None and g[0] == 200 and g[1] == BIG and g[2] == sha(BIG), g and g[:3]
    assert origin_requests(origin, path) == 1
    m.wait_error_log(r"goes on for the cache")


def test_unstored_response_left_by_its_client_is_dropped(magpie_factory, origin):
    """Nothing follows it and it is not stored: the origin connection closes."""
    m = magpie_factory(**cache_config())
    path = "/big/%d" % (BIG * 4)
    reset(start_leader(m, origin, path)[0])
    assert poll(lambda: origin.send_failures == 1, timeout=10)
    assert "goes on for the cache" not in m.error_log_text()


def test_stalled_follower_does_not_slow_the_others(magpie_factory, origin):
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s" % (BIG, CACHEABLE)
    s = socket.create_connection(("127.0.0.1", m.port), timeout=30)
    s.sendall(get(origin.url(path)))
    assert poll(lambda: origin_requests(origin, path) == 1)
    stalled = small_conn(m.port)
    try:
        stalled.sendall(get(origin.url(path)))
        read_head(stalled)  # and then nothing
        t0 = time.monotonic()
        got = followers(m, origin, path, 2, t0 + 15)
        head, rest = read_head(s)
        digest, n = read_body(s, rest, BIG, t0 + 20)
        assert n == BIG and digest == sha(BIG)
        for g in got:
            assert g is not None and g[1] == BIG and g[2] == sha(BIG), g and g[:3]
        assert time.monotonic() - t0 < 15
    finally:
        stalled.close()
        s.close()


def test_detached_fetch_whose_origin_fails_ends_its_followers(magpie_factory, origin):
    """The origin cuts the response after 4 MB while the leader is gone:
    followers see the truncation (a close), nothing is stored, and magpie
    stays sane."""
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=%s&cut=%d&delay=0.5" % (BIG, CACHEABLE, 4 * MB)
    leader = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    leader.sendall(get(origin.url(path)))
    assert poll(lambda: origin_requests(origin, path) == 1)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=followers(m, origin, path, 2,
                                                               time.monotonic() + 15)))
    t.start()
    time.sleep(0.2)
    reset(leader)
    t.join(20)
    for g in out["r"]:
        assert g is not None and g[1] < BIG, g and g[:2]
    r = fetch(m.port, "GET", origin.url("/bytes/100"))
    assert r.status == 200


def test_detached_fetch_obeys_max_object_size(magpie_factory, origin):
    """A chunked response being stored, left by its client, is dropped once
    it passes max_object_size: the origin connection closes."""
    m = magpie_factory(**cache_config(cache={"max_object_size": "4MiB"}))
    path = "/big/%d?cc=%s&chunked=1&pace=0.1" % (BIG, CACHEABLE)
    s = small_conn(m.port)
    s.sendall(get(origin.url(path)))
    read_head(s)
    reset(s)
    m.wait_error_log(r"goes on for the cache")
    m.wait_error_log(r"closed: the fetch its client left is not stored", timeout=10)
    assert poll(lambda: origin.send_failures == 1, timeout=10)


def test_detached_fetch_obeys_read_timeout(magpie_factory, origin):
    """The origin falls silent mid-body after the leader left: the fetch
    ends after read_timeout, and so does the follower's response (cut)."""
    m = magpie_factory(**cache_config(upstream={"read_timeout": "1s"}))
    path = "/big/%d?cc=%s&cut=%d&hang=1" % (BIG, CACHEABLE, 2 * MB)
    leader, _ = start_leader(m, origin, path)
    f = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    try:
        f.sendall(get(origin.url(path)))
        head, rest = read_head(f)
        assert b"collapsed" in head
        reset(leader)
        m.wait_error_log(r"goes on for the cache")
        t0 = time.monotonic()
        digest, got = read_body(f, rest, BIG, t0 + 8)
        assert got == 2 * MB, got
        assert time.monotonic() - t0 < 6
    finally:
        f.close()
    m.wait_error_log(r"504 upstream \S+ sent nothing for 1s")


# -- (c) request bodies and pool slots ---------------------------------------------

def pool1(**extra):
    cfg = {"upstream": {"pool": {"max_per_origin": 1, "max_idle_per_origin": 1,
                                 "queue_timeout": "10s"}},
           "limits": {"client_idle_timeout": "3s"}}
    cfg.update(extra)
    return cfg


def test_stalled_small_body_holds_no_origin_slot(magpie_factory, origin):
    # the stalled body is cut after 6 s: a GET that waited for its slot
    # would take that long, one that did not takes a fraction of it
    m = magpie_factory(**pool1(limits={"client_idle_timeout": "6s"}))
    with m.conn(timeout=15) as a:
        a.send(build_request("POST", origin.url("/echo"),
                             headers=[("Content-Length", "1000")]) + b"x" * 10)
        time.sleep(0.3)
        t0 = time.monotonic()
        r = fetch(m.port, "GET", origin.url("/bytes/100"), timeout=10)
        assert r.status == 200 and r.body == pattern(100)
        assert time.monotonic() - t0 < 4, "the GET waited for the stalled body's slot"
        ra = a.read_response(timeout=12)
        assert ra.status == 408, ra
        assert a.closed_by_peer()
    assert not [q for q in origin.requests if q.path == "/echo"], \
        "a stalled body reached the origin"
    m.wait_error_log(r"client stalled: no request body for 6s")


def test_small_body_sent_whole_is_forwarded_once_complete(magpie_factory, origin):
    """The body read first, then the request goes up whole."""
    m = magpie_factory(**pool1())
    with m.conn(timeout=10) as a:
        a.send(build_request("POST", origin.url("/echo"),
                             headers=[("Content-Length", "1000")]) + b"x" * 10)
        time.sleep(1)
        assert not [q for q in origin.requests if q.path == "/echo"]
        a.send(b"y" * 990)
        r = a.read_response()
    assert r.status == 200
    assert hashlib.sha256(b"x" * 10 + b"y" * 990).hexdigest() in r.body.decode()


def test_stalled_large_body_frees_its_slot_after_client_idle_timeout(magpie_factory, origin):
    """Past the 64 KiB buffered first, a body holds a slot only while it
    keeps coming: 408 after client_idle_timeout, then the queue moves."""
    m = magpie_factory(**pool1())
    n = MB
    with m.conn(timeout=10) as a:
        a.send(build_request("POST", origin.url("/echo"),
                             headers=[("Content-Length", str(n))]) + pattern(200000))
        assert poll(lambda: [q for q in origin.requests if q.path == "/echo"])
        t0 = time.monotonic()
        r = fetch(m.port, "GET", origin.url("/bytes/100"), timeout=10)
        waited = time.monotonic() - t0
        assert r.status == 200 and r.body == pattern(100)
        assert 2 < waited < 6, "waited %.1fs" % waited
        ra = a.read_response(timeout=5)
        assert ra.status == 408, ra


def test_expect_continue_body_is_not_held_back(magpie_factory, origin):
    """A client that waits for 100 Continue gets it from the origin."""
    m = magpie_factory()
    with m.conn(timeout=10) as c:
        c.send(build_request("POST", origin.url("/echo"),
                             headers=[("Content-Length", "5"), ("Expect", "100-continue")]))
        time.sleep(0.5)
        assert poll(lambda: [q for q in origin.requests if q.path == "/echo"])
        c.send(b"hello")
        r = c.read_response()
    assert r.status == 200 and hashlib.sha256(b"hello").hexdigest() in r.body.decode()


@pytest.mark.time_limit(90)
def test_clients_leaving_at_every_stage_leave_magpie_sane(magpie_factory, origin):
    """Leaders and followers reset at every stage of a fetch (before the
    head, mid-body, behind, after it was stored), some fetches cut by the
    origin: every follower that stays gets a whole or visibly cut body, and
    the sanitized daemon exits cleanly (the fixture checks)."""
    m = magpie_factory(**cache_config(upstream={"read_timeout": "2s"}))
    n = 4 * MB
    for i, leave in enumerate((0.0, 0.05, 0.2, 0.4, 0.8, 1.5)):
        for cut in (n, n // 2):
            path = "/big/%d?cc=%s&delay=0.1&pace=0.1&cut=%d&r=%d" % (n, CACHEABLE, cut, i)
            socks = []
            for _ in range(3):
                s = small_conn(m.port)
                s.sendall(get(origin.url(path)))
                socks.append(s)
            keep = socket.create_connection(("127.0.0.1", m.port), timeout=20)
            keep.sendall(get(origin.url(path)))
            time.sleep(leave)
            for s in socks:
                reset(s)
            head, rest = read_head(keep)
            assert head.startswith(b"HTTP/1.1 200"), head
            digest, got = read_body(keep, rest, n, time.monotonic() + 20)
            keep.close()
            if cut == n:
                assert got == n and digest == sha(n), (leave, got)
            else:
                assert got < n
    r = fetch(m.port, "GET", origin.url("/bytes/100"))
    assert r.status == 200
    # no fetch is left behind: SIGTERM finds nothing to wait for
    m.signal(signal.SIGTERM)
    assert m.expect_exit(10) == 0, m.exit_message(None)
    assert "shutdown timeout" not in m.error_log_text()
