"""TLS listeners: listen entries { address, tls: { cert, key } } take
clients over TLS (curl's --proxy https://), for plain requests and CONNECT
alike, next to plain listeners; an unreadable cert or key file stops magpie
at start with exit code 3 and an error naming the file."""

import pytest

from conftest import StartError, free_port
from origin import pattern
import rawhttp
from upstream_util import *  # noqa: F401,F403 (fixtures)


def tls_listen(certs, port, name="leaf"):
    return {"address": "127.0.0.1:%d" % port,
            "tls": {"cert": str(getattr(certs, name)), "key": str(getattr(certs, name + "_key"))}}


def https_proxy(m):
    return "https://127.0.0.1:%d" % m.port


def test_curl_through_tls_listener(magpie_listen_factory, origin, certs, tmp_path):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)])
    out = tmp_path / "body"
    p = curl("--proxy", https_proxy(m), "--proxy-cacert", str(certs.ca), "-o", str(out),
             origin.url("/bytes/30000"))
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    assert out.read_bytes() == pattern(30000)
    assert [q.target for q in origin.requests] == ["/bytes/30000"]


def test_connect_through_tls_listener(magpie_listen_factory, tls_origin_factory, certs, tmp_path):
    o = tls_origin_factory()
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)],
                              connect={"allowed_ports": [o.port]})
    out = tmp_path / "body"
    p = curl("--proxy", https_proxy(m), "--proxy-cacert", str(certs.ca), "--cacert", str(certs.ca),
             "-o", str(out), o.url("/bytes/30000"))
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    assert out.read_bytes() == pattern(30000)


def test_keep_alive_on_tls_client_connection(magpie_listen_factory, origin, certs):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)])
    c = rawhttp.Conn(m.port)
    with c:
        c.sock = client_context(certs.ca).wrap_socket(c.sock, server_hostname="127.0.0.1")
        for i in range(5):
            r = c.request("GET", origin.url("/bytes/%d" % (1000 * (i + 1))))
            assert r.status == 200 and r.body == pattern(1000 * (i + 1)), (i, r)
        r = c.request("POST", origin.url("/echo"), body=b"over tls")
        assert r.status == 200 and b'"body": "over tls"' in r.body
    assert origin.connections == 1


def test_tls_and_plain_listeners_side_by_side(magpie_listen_factory, origin, certs, tmp_path):
    plain = free_port()
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port), "127.0.0.1:%d" % plain])
    # readiness was seen on the first listener; the second may lag it by a moment
    m.wait_error_log(r"magpie \S+ started", timeout=5)
    r = rawhttp.fetch(plain, "GET", origin.url("/bytes/10"))
    assert r.status == 200 and r.body == pattern(10)
    out = tmp_path / "body"
    p = curl("--proxy", https_proxy(m), "--proxy-cacert", str(certs.ca), "-o", str(out),
             origin.url("/bytes/20"))
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    assert out.read_bytes() == pattern(20)


@pytest.mark.parametrize("missing", ["cert", "key"])
def test_unreadable_tls_file_exits_3_naming_it(magpie_listen_factory, certs, tmp_path, missing):
    bad = tmp_path / ("no-such-%s.pem" % missing)

    def listen(port):
        entry = tls_listen(certs, port)
        entry["tls"][missing] = str(bad)
        return [entry]

    with pytest.raises(StartError) as e:
        magpie_listen_factory(listen)
    assert e.value.rc == 3, "exit code %s" % e.value.rc
    m = e.value.magpie
    text = m.stderr_text() + m.error_log_text()
    assert str(bad) in text, "no error naming %s; stderr and error log:\n%s" % (bad, text)


# -- limits.client_header_timeout from accept, handshake included -------------------------

def _closed_after(sock, limit):
    """Seconds until the peer closes sock (reads and drops whatever comes)."""
    import time
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    return time.monotonic() - start


@pytest.mark.parametrize("send", [b"", b"\x16"], ids=["silent", "one-byte-of-clienthello"])
@pytest.mark.time_limit(20)
def test_stalled_tls_handshake_is_closed_after_header_timeout(magpie_listen_factory, certs,
                                                              send):
    import socket
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)],
                              limits={"client_header_timeout": "1s", "client_idle_timeout": "60s"})
    s = socket.create_connection(("127.0.0.1", m.port))
    with s:
        s.sendall(send)
        took = _closed_after(s, 10)
    assert 0.8 <= took < 3, "closed after %.2f s (client_header_timeout 1s)" % took
    assert m.wait_error_log(r"TLS handshake and request head not done within 1s")


@pytest.mark.time_limit(20)
def test_trickled_tls_handshake_cannot_outlast_header_timeout(magpie_listen_factory, certs):
    """One byte of ClientHello every 300 ms: the deadline runs from accept."""
    import socket
    import ssl
    import time
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)],
                              limits={"client_header_timeout": "1s", "client_idle_timeout": "60s"})
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(certs.ca).wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    s = socket.create_connection(("127.0.0.1", m.port))
    start = time.monotonic()
    with s:
        try:
            for b in hello[:-1]:
                s.sendall(bytes([b]))
                time.sleep(0.3)
                if time.monotonic() - start > 5:
                    break
        except OSError:
            pass
        took = time.monotonic() - start
    assert took < 3, "a trickled ClientHello held the connection %.2f s" % took


@pytest.mark.time_limit(20)
def test_header_timeout_counts_the_handshake(magpie_listen_factory, certs, origin):
    """After a quick handshake, a head started late must still end within
    client_header_timeout of accept: the head does not get a fresh one."""
    import socket
    import time
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)],
                              limits={"client_header_timeout": "2s", "client_idle_timeout": "60s"})
    start = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", m.port))
    s = client_context(certs.ca).wrap_socket(raw, server_hostname="127.0.0.1")
    with s:
        time.sleep(1.4)
        s.sendall(b"GET ")
        data = b""
        s.settimeout(10)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except OSError:
            pass
        took = time.monotonic() - start
    assert 1.8 <= took < 3.0, "closed %.2f s after accept (client_header_timeout 2s)" % took
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    # a whole request within the limit still works, and so does keep-alive
    c = rawhttp.Conn(m.port)
    with c:
        c.sock = client_context(certs.ca).wrap_socket(c.sock, server_hostname="127.0.0.1")
        for i in range(2):
            r = c.request("GET", origin.url("/bytes/10"))
            assert r.status == 200 and r.body == pattern(10)
            time.sleep(2.5 if i == 0 else 0)  # idle between requests is not the head
