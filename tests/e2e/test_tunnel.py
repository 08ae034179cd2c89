"""CONNECT tunnels: allowed only to connect.allowed_ports and only for
clients in the ACL; bytes flow both ways untouched (curl and aiohttp speak
TLS to an HTTPS origin through them); the access line counts both
directions; an idle tunnel is closed after limits.client_idle_timeout."""

import time

import pytest

from origin import pattern
from rawhttp import build_request, is_error_body
from upstream_util import *  # noqa: F401,F403 (fixtures)


def test_curl_https_through_connect(magpie_factory, tls_origin_factory, certs, tmp_path):
    o = tls_origin_factory()
    m = magpie_factory(connect={"allowed_ports": [o.port]})
    out = tmp_path / "body"
    p = curl("-x", m.proxy_url, "--cacert", str(certs.ca), "-o", str(out),
             o.url("/bytes/20000"))
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    assert out.read_bytes() == pattern(20000)
    assert [q.target for q in o.requests] == ["/bytes/20000"]


def test_aiohttp_https_through_connect(magpie_factory, tls_origin_factory, certs):
    import aiohttp

    o = tls_origin_factory()
    m = magpie_factory(connect={"allowed_ports": [o.port]})
    ctx = client_context(certs.ca)

    async def main():
        async with aiohttp.ClientSession(trust_env=False) as s:
            out = []
            for n in (10, 70000):
                async with s.get(o.url("/bytes/%d" % n), proxy=m.proxy_url, ssl=ctx) as r:
                    out.append((r.status, await r.read()))
            return out

    (s1, b1), (s2, b2) = run_async(main(), timeout=20)
    assert (s1, s2) == (200, 200)
    assert b1 == pattern(10) and b2 == pattern(70000)


def test_connect_to_port_not_allowed_is_403(magpie, origin):
    # the default allowed_ports is [443]
    with magpie.conn() as c:
        target = "127.0.0.1:%d" % origin.port
        c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        r = c.read_response()
    assert r.status == 403
    assert is_error_body(r), r.body
    assert origin.connections == 0, "magpie connected to a port it refused"


def test_connect_with_empty_allowed_ports_is_403(magpie_factory, tls_origin_factory):
    o = tls_origin_factory()
    m = magpie_factory(connect={"allowed_ports": []})
    c, status, head = open_tunnel(m, "127.0.0.1:%d" % o.port)
    c.close()
    assert status == 403, head
    assert o.connections == 0


def test_connect_from_client_outside_acl_is_403(magpie_factory, origin):
    m = magpie_factory(acl={"allow": ["10.0.0.0/8"]}, connect={"allowed_ports": [origin.port]})
    c, status, head = open_tunnel(m, "127.0.0.1:%d" % origin.port)
    c.close()
    assert status == 403, head
    assert origin.connections == 0


def test_connect_access_line_counts_both_directions(magpie_factory, origin):
    m = magpie_factory(connect={"allowed_ports": [origin.port]})
    target = "127.0.0.1:%d" % origin.port
    c, status, head = open_tunnel(m, target)
    with c:
        assert status == 200, head
        req = build_request("GET", "/bytes/5000", host=target, headers=[("Connection", "close")])
        c.send(req)
        data = c.read_all()  # the origin closes, then magpie closes the tunnel
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(pattern(5000))
    f = access_fields(m.wait_access_line(lambda l: " CONNECT " in l))
    assert f["method"] == "CONNECT"
    assert f["url"] == target
    assert f["status"] == "200"
    assert "bytes_received" in f, "no bytes-received field (10th) in the CONNECT access line"
    sent, received = int(f["bytes_sent"]), int(f["bytes_received"])
    connect_req = len("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target))
    assert len(data) <= sent <= len(data) + len(head), \
        "bytes_sent %d; the client got %d through the tunnel after a %d-byte head" % (
            sent, len(data), len(head))
    assert len(req) <= received <= len(req) + connect_req, \
        "bytes_received %d; the client sent %d through the tunnel after a %d-byte CONNECT" % (
            received, len(req), connect_req)


@pytest.mark.time_limit(20)
def test_idle_tunnel_is_closed_after_client_idle_timeout(magpie_factory, origin):
    m = magpie_factory(limits={"client_idle_timeout": "1s"},
                       connect={"allowed_ports": [origin.port]})
    c, status, head = open_tunnel(m, "127.0.0.1:%d" % origin.port)
    with c:
        assert status == 200, head
        start = time.monotonic()
        assert c.closed_by_peer(timeout=5), "idle tunnel still open after 5 s"
        took = time.monotonic() - start
    assert 0.8 <= took < 5, "tunnel closed after %.2f s with client_idle_timeout 1s" % took


@pytest.mark.time_limit(20)
def test_busy_tunnel_outlives_client_idle_timeout(magpie_factory, origin):
    m = magpie_factory(limits={"client_idle_timeout": "1s"},
                       connect={"allowed_ports": [origin.port]})
    target = "127.0.0.1:%d" % origin.port
    c, status, head = open_tunnel(m, target)
    with c:
        assert status == 200, head
        for i in range(5):  # 2.5 s in all, never idle for 1 s
            r = c.request("GET", "/bytes/10?%d" % i, host=target)
            assert r.status == 200 and r.body == pattern(10), (i, r)
            time.sleep(0.5)
    assert origin.connections == 1


# -- half-close (RFC 9110 §9.3.6) -----------------------------------------------------------

class HalfCloseOrigin:
    """A raw TCP origin. 'reader': reads until the client's EOF, then answers
    with what it read and closes. 'writer': sends a greeting, half-closes,
    then reads until EOF. Records what each connection received."""

    def __init__(self, mode):
        import socket
        import threading
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _read_all(self, s):
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                return data
            data += d

    def _serve(self):
        import socket
        try:
            s, _ = self.sock.accept()
        except OSError:
            return
        with s:
            s.settimeout(10)
            try:
                if self.mode == "reader":
                    got = self._read_all(s)
                    self.received.append(got)
                    s.sendall(b"got %d bytes: " % len(got) + got[:64])
                else:
                    s.sendall(b"hello from the origin")
                    s.shutdown(socket.SHUT_WR)
                    self.received.append(self._read_all(s))
            except OSError as e:
                self.received.append(e)
            finally:
                self.done.set()

    def stop(self):
        self.sock.close()


@pytest.mark.time_limit(20)
def test_client_half_close_still_gets_the_origin_answer(magpie_factory):
    """The client sends its request and shuts its write side; the origin
    reads to EOF before answering; the answer still reaches the client."""
    import socket
    o = HalfCloseOrigin("reader")
    try:
        m = magpie_factory(connect={"allowed_ports": [o.port]})
        c, status, head = open_tunnel(m, "127.0.0.1:%d" % o.port)
        with c:
            assert status == 200, head
            c.sock.sendall(b"ping" * 1000)
            c.sock.shutdown(socket.SHUT_WR)
            answer = c.read_all(timeout=5)
        assert o.done.wait(5), "the origin never saw the client's EOF"
        assert o.received == [b"ping" * 1000]
        assert answer == b"got 4000 bytes: " + (b"ping" * 1000)[:64], answer
    finally:
        o.stop()


@pytest.mark.time_limit(20)
def test_origin_half_close_still_carries_the_client_bytes(magpie_factory):
    """The origin sends and shuts its write side: the client sees its bytes
    and then EOF, and what it sends afterwards still reaches the origin."""
    import socket
    o = HalfCloseOrigin("writer")
    try:
        m = magpie_factory(connect={"allowed_ports": [o.port]})
        c, status, head = open_tunnel(m, "127.0.0.1:%d" % o.port)
        with c:
            assert status == 200, head
            got = c.buf
            c.buf = b""
            c.sock.settimeout(5)
            while True:
                d = c.sock.recv(65536)
                if not d:
                    break  # magpie passed the origin's half-close on
                got += d
            assert got == b"hello from the origin"
            c.sock.sendall(b"late words")
            c.sock.shutdown(socket.SHUT_WR)
            assert o.done.wait(5), "the origin never saw the client's EOF"
        assert o.received == [b"late words"], o.received
    finally:
        o.stop()
