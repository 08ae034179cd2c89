"""Upstream keep-alive pool and retries: connections are reused per origin,
bounded by max_per_origin (with a queue_timeout), dropped when the origin
closes them or when idle_timeout passes; an idempotent request that fails on
a reused connection before any response byte is retried once on a fresh one,
a POST never is; a refused connect moves on to the next resolved address."""

import asyncio
import threading
import time

import pytest

from conftest import poll
from origin import pattern
from rawhttp import fetch, is_error_body
from upstream_util import *  # noqa: F401,F403 (fixtures)


def get(m, url, **kw):
    return fetch(m.port, "GET", url, **kw)


# -- reuse -----------------------------------------------------------------------------

def test_sequential_requests_on_one_client_connection_use_one_upstream_connection(
        magpie, tracking_origin):
    o = tracking_origin
    with magpie.conn() as c:
        for i in range(100):
            r = c.request("GET", o.url("/bytes/100?seq=%d" % i))
            assert r.status == 200 and r.body == pattern(100), (i, r)
    assert o.connections == 1, "100 requests took %d upstream connections" % o.connections
    sent = [q.header("connection") or "" for q in o.requests]
    assert not [v for v in sent if "close" in v.lower()], \
        "magpie asked the origin to close: %r" % sent[:3]


def test_sequential_requests_from_separate_clients_use_one_upstream_connection(
        magpie, tracking_origin):
    o = tracking_origin
    for i in range(100):
        r = get(magpie, o.url("/bytes/10?client=%d" % i))
        assert r.status == 200 and r.body == pattern(10), (i, r)
    assert o.connections == 1, "100 requests took %d upstream connections" % o.connections


def test_pool_is_per_origin(magpie):
    a, b = TrackingOrigin(), TrackingOrigin()
    try:
        for i in range(10):
            for o in (a, b):
                r = get(magpie, o.url("/bytes/5?%d" % i))
                assert r.status == 200
                assert r.header("x-response-number") == str(i + 1)
        assert (a.connections, b.connections) == (1, 1)
    finally:
        a.stop()
        b.stop()


def test_connection_the_origin_closes_is_not_reused(magpie, tracking_origin):
    o = tracking_origin
    r1 = get(magpie, o.url("/nolength/100"))  # answered with Connection: close
    assert r1.status == 200 and r1.body == pattern(100)
    r2 = get(magpie, o.url("/bytes/3"))
    assert r2.status == 200
    assert r2.header("x-connection-number") == "2"
    r3 = get(magpie, o.url("/bytes/4"))
    assert r3.status == 200
    assert r3.header("x-connection-number") == "2", "the second connection was not kept"


# -- limits ----------------------------------------------------------------------------

@pytest.mark.time_limit(30)
def test_max_per_origin_bounds_concurrent_upstream_connections(magpie_factory, tracking_origin):
    import aiohttp

    o = tracking_origin
    m = magpie_factory(upstream={"pool": {"max_per_origin": 4, "max_idle_per_origin": 4}})

    async def main():
        async with aiohttp.ClientSession(trust_env=False) as s:
            async def one(i):
                async with s.get(o.url("/slow/0.2?c=%d" % i), proxy=m.proxy_url) as r:
                    return r.status, await r.read()
            return await asyncio.gather(*(one(i) for i in range(50)))

    results = run_async(main(), timeout=25)
    assert [s for s, _ in results] == [200] * 50, results
    assert all(body == b"slow\n" for _, body in results)
    assert o.open_max <= 4, "origin saw %d connections at once (max_per_origin 4; %d in all)" % (
        o.open_max, o.connections)
    assert o.request_count() == 50


@pytest.mark.time_limit(20)
def test_request_waiting_past_queue_timeout_gets_503(magpie_factory, tracking_origin):
    o = tracking_origin
    m = magpie_factory(upstream={"pool": {"max_per_origin": 1, "max_idle_per_origin": 1,
                                          "queue_timeout": "1s"}})
    first = {}
    t = threading.Thread(target=lambda: first.update(r=get(m, o.url("/slow/2.5"))), daemon=True)
    t.start()
    try:
        assert poll(lambda: o.request_count() == 1), "the slow request never reached the origin"
        start = time.monotonic()
        r = get(m, o.url("/bytes/3?queued"))
        took = time.monotonic() - start
        assert r.status == 503, r
        assert is_error_body(r), r.body
        assert 0.8 <= took < 2.3, "503 after %.2f s with queue_timeout 1s" % took
        assert o.request_count() == 1, "the queued request reached the origin"
    finally:
        t.join(10)
    assert first["r"].status == 200 and first["r"].body == b"slow\n"


@pytest.mark.time_limit(20)
def test_queued_request_gets_the_freed_connection(magpie_factory, tracking_origin):
    o = tracking_origin
    m = magpie_factory(upstream={"pool": {"max_per_origin": 1, "max_idle_per_origin": 1,
                                          "queue_timeout": "5s"}})
    first = {}
    t = threading.Thread(target=lambda: first.update(r=get(m, o.url("/slow/0.5"))), daemon=True)
    t.start()
    try:
        assert poll(lambda: o.request_count() == 1)
        r = get(m, o.url("/bytes/3?queued"))
    finally:
        t.join(10)
    assert first["r"].status == 200
    assert r.status == 200 and r.body == pattern(3)
    assert o.connections == 1


def test_idle_connection_closed_by_origin_is_dropped(magpie_factory, tracking_origin):
    o = tracking_origin
    m = magpie_factory(upstream={"retries": 0})
    assert get(m, o.url("/bytes/3")).status == 200
    time.sleep(0.2)
    assert (o.open_now, o.closes()) == (1, 0), "magpie did not keep the connection"
    o.close_all()
    assert poll(lambda: o.closes() == 1), "the origin did not close its side"
    time.sleep(0.2)
    r = get(m, o.url("/bytes/4"))
    assert r.status == 200 and r.body == pattern(4), r
    assert r.header("x-connection-number") == "2"


@pytest.mark.time_limit(20)
def test_idle_timeout_closes_idle_upstream_connection(magpie_factory, tracking_origin):
    o = tracking_origin
    m = magpie_factory(upstream={"pool": {"idle_timeout": "1s"}})
    start = time.monotonic()
    assert get(m, o.url("/bytes/3")).status == 200
    time.sleep(0.5)
    assert o.closes() == 0, "the idle connection was closed at once"
    assert poll(lambda: o.closes() == 1, timeout=4), \
        "idle upstream connection still open %.1f s after its last use" % (time.monotonic() - start)
    took = o.closed_at[0] - start
    assert 0.8 <= took < 4, "closed after %.2f s with idle_timeout 1s" % took


# -- retries ---------------------------------------------------------------------------

def drops(o):
    return [(q.method, q.connection_number) for q in o.requests if q.path == "/drop-reused"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE"])
def test_idempotent_request_failing_on_reused_connection_is_retried(
        magpie, tracking_origin, method):
    o = tracking_origin
    assert get(magpie, o.url("/bytes/3")).status == 200
    r = fetch(magpie.port, method, o.url("/drop-reused"))
    assert r.status == 200, r
    if method != "HEAD":
        assert r.body == b"fresh\n"
    assert r.header("x-connection-number") == "2"
    assert drops(o) == [(method, 1), (method, 2)]


def test_post_failing_on_reused_connection_is_not_replayed(magpie, tracking_origin):
    o = tracking_origin
    assert get(magpie, o.url("/bytes/3")).status == 200
    r = fetch(magpie.port, "POST", o.url("/drop-reused"), body=b"payload")
    assert r.status == 502, r
    assert is_error_body(r), r.body
    time.sleep(0.3)
    assert drops(o) == [("POST", 1)], "the origin saw the POST %d times" % len(drops(o))


def test_no_retry_with_retries_0(magpie_factory, tracking_origin):
    o = tracking_origin
    m = magpie_factory(upstream={"retries": 0})
    assert get(m, o.url("/bytes/3")).status == 200
    r = get(m, o.url("/drop-reused"))
    assert r.status == 502, r
    assert is_error_body(r), r.body
    time.sleep(0.3)
    assert drops(o) == [("GET", 1)]


def test_refused_connect_tries_next_address(magpie, tracking_origin, dns):
    o = tracking_origin
    # 127.0.0.3 is loopback too, but the origin listens on 127.0.0.1 only
    dns.add("two.test", "127.0.0.3", "127.0.0.1")
    r = get(magpie, "http://two.test:%d/bytes/7" % o.port)
    assert r.status == 200, r
    assert r.body == pattern(7)
    assert dns.queries_for("two.test")


# -- bytes after a complete response (RFC 9112 §6.3) -------------------------------------

FAKE = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: public, max-age=600\r\n"
        b"X-Fake: yes\r\n\r\nFAKE!")


class LateBytesOrigin:
    """Raw origin: on its first connection it answers a HEAD with
    Content-Length: 5 and, in the same TCP write but as the next bytes (a TLS
    record of their own when tls), a whole fake response nobody asked for;
    then it only records what else arrives there. Later connections answer
    every request with a real, unstorable 200 naming the connection."""

    def __init__(self, ssl_context=None, delay=0.4, close_first=False):
        import socket
        self.ctx = ssl_context
        self.delay = delay
        self.close_first = close_first  # no fake: close right after the first answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = []  # (connection number, request line)
        self.conns = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % ("https" if self.ctx else "http", self.port, path)

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                n = self.conns
            threading.Thread(target=self._serve, args=(s, n), daemon=True).start()

    def _wrap(self, raw):
        """A server-side TLS session over memory BIOs: what it writes leaves
        in one send() per flush, so two records can share one TCP write."""
        import ssl
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.ctx.wrap_bio(inc, out, server_side=True)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    raw.sendall(out.read())
                data = raw.recv(65536)
                if not data:
                    raise OSError("closed in the handshake")
                inc.write(data)
        if out.pending:
            raw.sendall(out.read())
        return obj, inc, out

    def _serve(self, raw, n):
        import ssl
        raw.settimeout(10)
        tls = None
        try:
            if self.ctx:
                tls = self._wrap(raw)
            buf = b""

            def recv():
                if not tls:
                    return raw.recv(65536)
                obj, inc, out = tls
                while True:
                    try:
                        return obj.read(65536)
                    except ssl.SSLWantReadError:
                        data = raw.recv(65536)
                        if not data:
                            return b""
                        inc.write(data)

            def send(*pieces):
                if not tls:
                    raw.sendall(b"".join(pieces))
                    return
                obj, inc, out = tls
                for p in pieces:
                    obj.write(p)  # one record each
                raw.sendall(out.read())

            while True:
                while b"\r\n\r\n" not in buf:
                    data = recv()
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                with self.lock:
                    self.requests.append((n, head.split(b"\r\n", 1)[0].decode()))
                length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                while length and len(buf) < length[0]:
                    data = recv()
                    if not data:
                        return
                    buf += data
                buf = buf[length[0]:] if length else buf
                if n == 1:
                    time.sleep(self.delay)  # the next client queues meanwhile
                    if self.close_first:
                        send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
                        return
                    send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", FAKE)
                    continue
                body = b"real from connection %d\n" % n
                send(b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        except OSError:
            pass
        finally:
            raw.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.time_limit(30)
def test_bytes_after_a_response_never_answer_the_queued_request(magpie_factory, certs, tls):
    """The connection handed straight from the finished HEAD to the queued
    GET holds a fake response: it is closed, the GET goes out on a new
    connection and gets its own answer; the fake is never served or cached."""
    o = LateBytesOrigin(server_context(certs) if tls else None)
    try:
        m = magpie_factory(upstream={"pool": {"max_per_origin": 1},
                                     "tls": {"ca_file": str(certs.ca)}})
        first = {}
        t = threading.Thread(target=lambda: first.update(
            r=fetch(m.port, "HEAD", o.url("/first"))), daemon=True)
        t.start()
        assert poll(lambda: len(o.requests) == 1), "the HEAD never reached the origin"
        second = {}
        t2 = threading.Thread(target=lambda: second.update(
            r=fetch(m.port, "GET", o.url("/second"))), daemon=True)
        t2.start()
        t.join(10)
        t2.join(10)
        assert first["r"].status == 200 and first["r"].header("content-length") == "5"
        r = second["r"]
        assert r.status == 200 and r.header("x-fake") is None, (r, r.body)
        assert r.body == b"real from connection 2\n", r.body
        assert (2, "GET /second HTTP/1.1") in o.requests, o.requests
        assert [q for q in o.requests if q[0] == 1] == [(1, "HEAD /first HTTP/1.1")], o.requests
        r = fetch(m.port, "GET", o.url("/second"))
        assert r.header("x-fake") is None and r.body.startswith(b"real"), (r, r.body)
        assert magpie_log_has_unread_note(m, tls)
    finally:
        o.stop()


def magpie_log_has_unread_note(m, tls):
    """Plain: the bytes came with the response's last read, and the connection
    was not kept. TLS: they waited in their own record, and the hand-over
    check found them."""
    if not tls:
        return True
    return m.wait_error_log(r"has unread bytes or was closed; not reused")


# -- defaults that hold under load --------------------------------------------------------

@pytest.mark.time_limit(60)
def test_default_pool_keeps_its_connections_under_50_clients(magpie, tracking_origin):
    """The bench's miss load in small: 50 clients at once, each sending
    requests back to back through the default config. Once each has its
    origin connection, nothing is closed and reopened: the origin sees at
    most one connection per client in all."""
    import aiohttp

    o = tracking_origin
    clients, rounds = 50, 12

    async def main():
        conn = aiohttp.TCPConnector(limit=clients, force_close=False)
        async with aiohttp.ClientSession(connector=conn, trust_env=False) as s:
            async def one(i):
                for j in range(rounds):
                    async with s.get(o.url("/bytes/100?c=%d&r=%d" % (i, j)),
                                     proxy=magpie.proxy_url) as r:
                        assert r.status == 200
                        await r.read()
            await asyncio.gather(*(one(i) for i in range(clients)))

    run_async(main(), timeout=50)
    assert o.request_count() == clients * rounds
    assert o.connections <= clients, (
        "the origin saw %d connections for %d clients (%d requests): the pool churns"
        % (o.connections, clients, clients * rounds))
    assert not [t for t in o.closed_at], "magpie closed %d origin connections under load" % (
        len(o.closed_at))


@pytest.mark.time_limit(30)
def test_connection_the_origin_closed_is_not_handed_to_a_queued_post(magpie_factory, certs):
    """The origin answers and closes at once, without saying so: the queued
    POST (which cannot be replayed) is not written onto the dead connection
    but sent on a new one."""
    o = LateBytesOrigin(close_first=True)
    try:
        m = magpie_factory(upstream={"pool": {"max_per_origin": 1}})
        first = {}
        t = threading.Thread(target=lambda: first.update(
            r=fetch(m.port, "HEAD", o.url("/first"))), daemon=True)
        t.start()
        assert poll(lambda: len(o.requests) == 1), "the HEAD never reached the origin"
        second = {}
        t2 = threading.Thread(target=lambda: second.update(
            r=fetch(m.port, "POST", o.url("/post"), body=b"once only")), daemon=True)
        t2.start()
        t.join(10)
        t2.join(10)
        assert first["r"].status == 200
        r = second["r"]
        assert r.status == 200 and r.body == b"real from connection 2\n", (r, r.body)
        assert o.requests == [(1, "HEAD /first HTTP/1.1"), (2, "POST /post HTTP/1.1")], o.requests
    finally:
        o.stop()
