"""HTTPS origins: absolute https:// request targets (forward, no CONNECT) and
reverse routes to https:// origins. The chain and host name are checked
against upstream.tls.ca_file; a failed check is a 502 whose body and error
log line name the reason. A route with tls: {verify: false} skips the checks
and magpie warns about it at start. Connections are pooled and TLS sessions
resumed."""

import re
import threading

import pytest

from conftest import poll
from origin import pattern
from rawhttp import fetch, is_error_body
from upstream_util import *  # noqa: F401,F403 (fixtures)


def tls_config(certs, **extra):
    return {"tls": dict({"ca_file": str(certs.ca)}, **extra)}


def test_forward_https_uri_by_name(magpie_factory, tls_origin_factory, certs, dns):
    o = tls_origin_factory()
    m = magpie_factory(upstream=tls_config(certs))
    r = https_get(m, o.url("/bytes/1000", host="origin.test"))
    assert r.status == 200, (r, r.body)
    assert r.body == pattern(1000)
    assert [q.target for q in o.requests] == ["/bytes/1000"]
    assert o.requests[0].header("host") == "origin.test:%d" % o.port
    assert dns.queries_for("origin.test")


def test_forward_https_uri_by_ip_literal(magpie_factory, tls_origin_factory, certs):
    o = tls_origin_factory()
    m = magpie_factory(upstream=tls_config(certs))
    r = https_get(m, o.url("/bytes/100"))
    assert r.status == 200, (r, r.body)
    assert r.body == pattern(100)


def test_forward_https_post_body_reaches_origin(magpie_factory, tls_origin_factory, certs):
    import json

    o = tls_origin_factory()
    m = magpie_factory(upstream=tls_config(certs))
    body = b"z" * 200000
    r = fetch(m.port, "POST", o.url("/echo", host="origin.test"), body=body)
    assert r.status == 200, r
    doc = json.loads(r.body)
    assert doc["method"] == "POST" and doc["body_length"] == len(body)


def test_reverse_route_to_https_origin(magpie_factory, tls_origin_factory, certs):
    o = tls_origin_factory()
    m = magpie_factory(upstream=tls_config(certs),
                       routes=[{"host": "secure.local", "origin": o.url("", host="origin.test")}])
    r = fetch(m.port, "GET", "/bytes/300", host="secure.local")
    assert r.status == 200, (r, r.body)
    assert r.body == pattern(300)
    assert [q.target for q in o.requests] == ["/bytes/300"]


@pytest.mark.parametrize("cert,reason", [
    ("expired", "certificate has expired"),
    ("wronghost", "does not match host"),
    ("unknown", "unknown issuer"),
])
def test_failed_certificate_check_is_502_with_reason(magpie_factory, tls_origin_factory, certs,
                                                     cert, reason):
    o = tls_origin_factory(cert)
    m = magpie_factory(upstream=tls_config(certs))
    r = https_get(m, o.url("/bytes/10", host="origin.test"))
    assert r.status == 502, (r, r.body)
    assert is_error_body(r), r.body
    assert reason in r.body.decode(), r.body
    m.wait_error_log(re.escape(reason))
    assert o.request_count() == 0, "a request went to an origin that failed the check"


def test_failed_check_on_reverse_route_is_502(magpie_factory, tls_origin_factory, certs):
    o = tls_origin_factory("unknown")
    m = magpie_factory(upstream=tls_config(certs),
                       routes=[{"host": "secure.local", "origin": o.url("", host="origin.test")}])
    r = fetch(m.port, "GET", "/bytes/3", host="secure.local")
    assert r.status == 502, (r, r.body)
    assert "unknown issuer" in r.body.decode()
    assert o.request_count() == 0


def test_route_with_verify_false_reaches_self_signed_origin(magpie_factory, tls_origin_factory,
                                                            certs):
    o = tls_origin_factory("selfsigned")
    m = magpie_factory(upstream=tls_config(certs),
                       routes=[{"host": "insecure.local", "origin": o.url(""),
                                "tls": {"verify": False}}])
    m.wait_error_log(r"^\S+ \[warn\] (?=.*insecure\.local)(?=.*verify).*$")
    r = fetch(m.port, "GET", "/bytes/20", host="insecure.local")
    assert r.status == 200, (r, r.body)
    assert r.body == pattern(20)


def test_route_without_verify_false_rejects_self_signed_origin(magpie_factory,
                                                               tls_origin_factory, certs):
    o = tls_origin_factory("selfsigned")
    m = magpie_factory(upstream=tls_config(certs),
                       routes=[{"host": "secure.local", "origin": o.url("")}])
    r = fetch(m.port, "GET", "/bytes/20", host="secure.local")
    assert r.status == 502, (r, r.body)
    assert is_error_body(r)
    assert o.request_count() == 0


def test_upstream_verify_false_skips_checks(magpie_factory, tls_origin_factory, certs):
    o = tls_origin_factory("unknown")
    m = magpie_factory(upstream=tls_config(certs, verify=False))
    r = https_get(m, o.url("/bytes/5", host="origin.test"))
    assert r.status == 200, (r, r.body)


def test_https_connections_are_pooled(magpie_factory, tls_origin_factory, certs):
    o = tls_origin_factory()
    m = magpie_factory(upstream=tls_config(certs))
    for i in range(20):
        r = https_get(m, o.url("/bytes/50?%d" % i, host="origin.test"))
        assert r.status == 200 and r.body == pattern(50), (i, r)
    assert o.connections == 1, "20 https requests took %d connections" % o.connections


@pytest.mark.time_limit(20)
def test_tls_session_is_resumed_on_second_connection(magpie_factory, tls_origin_factory, certs):
    o = tls_origin_factory()
    m = magpie_factory(upstream=tls_config(certs))
    assert https_get(m, o.url("/bytes/1", host="origin.test")).status == 200
    # keep the first connection busy, so the next request needs a second one
    slow = {}
    t = threading.Thread(target=lambda: slow.update(
        r=https_get(m, o.url("/slow/1", host="origin.test"))), daemon=True)
    t.start()
    try:
        assert poll(lambda: o.request_count() == 2)
        r = https_get(m, o.url("/bytes/2", host="origin.test"))
    finally:
        t.join(10)
    assert r.status == 200 and slow["r"].status == 200
    assert o.connections == 2
    assert o.session_reused == [False, True], "server-side session_reused per connection"


@pytest.mark.time_limit(20)
def test_https_origin_that_never_answers_is_504(magpie_factory, tls_origin_factory, certs):
    import time

    o = tls_origin_factory()
    m = magpie_factory(upstream=dict(tls_config(certs), read_timeout="1s"))
    start = time.monotonic()
    r = https_get(m, o.url("/hang", host="origin.test"))
    took = time.monotonic() - start
    assert r.status == 504, (r, r.body)
    assert is_error_body(r), r.body
    assert 0.8 <= took < 5, "504 after %.2f s with read_timeout 1s" % took


@pytest.fixture(scope="module")
def cn_only_cert(certs, tmp_path_factory):
    """A leaf the test CA signed with CN=origin.test and no subjectAltName."""
    import ssl
    from upstream_util import _new_csr, _openssl
    d = tmp_path_factory.mktemp("cn-only")
    _new_csr(d, "cnonly", "origin.test")
    (d / "cnonly.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "cnonly.csr", "-CA", str(certs.ca),
             "-CAkey", str(certs.dir / "ca.key"), "-CAcreateserial", "-days", "30",
             "-extfile", "cnonly.ext", "-out", "cnonly.crt", cwd=d)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / "cnonly.crt"), str(d / "cnonly.key"))
    return ctx


def test_subject_common_name_is_never_a_host_name(magpie_factory, tls_origin_factory, certs,
                                                  cn_only_cert, dns):
    """RFC 9525: names are checked against subjectAltName only; a CN=origin.test
    certificate without one does not match origin.test. A SAN one does."""
    o = TrackingOrigin(ssl_context=cn_only_cert)
    try:
        m = magpie_factory(upstream=tls_config(certs))
        r = https_get(m, o.url("/bytes/10", host="origin.test"))
        assert r.status == 502, (r, r.body)
        assert is_error_body(r), r.body
        assert b'certificate does not match host "origin.test"' in r.body, r.body
        assert o.request_count() == 0
        good = tls_origin_factory()
        r = https_get(m, good.url("/bytes/10", host="origin.test"))
        assert r.status == 200 and r.body == pattern(10), (r, r.body)
    finally:
        o.stop()
