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
