"""Error responses: malformed and ambiguous requests, ACL, upstream failures,
truncated upstream bodies. Every magpie error is text/plain with a
Content-Length and the body 'magpie: <reason>\\n'."""

import re
import subprocess
import time

import pytest

from conftest import clean_env
from rawhttp import fetch, is_error_body


def reject(magpie, raw):
    """Sends raw bytes; returns the response after checking magpie closed."""
    with magpie.conn() as c:
        c.send(raw)
        r = c.read_response()
        assert is_error_body(r), "not a magpie error response: %r %r" % (r, r.body)
        assert c.closed_by_peer(), "connection left open after a %d" % r.status
    return r


def head(origin, *lines, target=None):
    target = target or origin.url("/echo")
    return ("GET %s HTTP/1.1\r\n" % target).encode() + b"".join(
        l + b"\r\n" for l in lines) + b"\r\n"


# -- malformed ------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\nNo colon in this line\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n",
], ids=["garbage", "no-target", "extra-field", "header-no-colon", "bad-content-length"])
def test_malformed_request_is_400(magpie, origin, raw):
    assert reject(magpie, raw).status == 400
    assert origin.request_count() == 0


def test_absolute_uri_with_bad_port_is_400(magpie, origin):
    r = reject(magpie, b"GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 400


def test_request_head_over_max_header_bytes_is_431(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_header_bytes": "4KiB", "max_uri_bytes": "2KiB"})
    r = reject(magpie, head(origin, b"X-Big: " + b"b" * 8000))
    assert r.status == 431
    assert origin.request_count() == 0


def test_many_headers_over_max_header_bytes_is_431(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_header_bytes": "4KiB", "max_uri_bytes": "2KiB"})
    lines = [b"X-H%d: %s" % (i, b"v" * 60) for i in range(100)]
    assert reject(magpie, head(origin, *lines)).status == 431


def test_head_just_under_max_header_bytes_is_served(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_header_bytes": "4KiB", "max_uri_bytes": "2KiB"})
    r = fetch(magpie.port, "GET", origin.url("/bytes/3"), headers=[("X-Big", "b" * 3000)])
    assert r.status == 200


def test_request_target_over_max_uri_bytes_is_414(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_uri_bytes": "1KiB"})
    target = origin.url("/echo?" + "q" * 2000)
    r = reject(magpie, head(origin, b"Host: " + origin.authority.encode(), target=target))
    assert r.status == 414
    assert origin.request_count() == 0


def test_request_target_under_max_uri_bytes_is_served(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_uri_bytes": "1KiB"})
    r = fetch(magpie.port, "GET", origin.url("/echo?" + "q" * 800))
    assert r.status == 200


# -- ambiguous framing: 400 and close -----------------------------------------------

def test_content_length_with_transfer_encoding_is_400(magpie, origin):
    raw = head(origin, b"Host: x", b"Content-Length: 5", b"Transfer-Encoding: chunked")
    r = reject(magpie, raw.replace(b"GET", b"POST", 1) + b"5\r\nhello\r\n0\r\n\r\n")
    assert r.status == 400
    assert origin.request_count() == 0


def test_two_different_content_lengths_are_400(magpie, origin):
    raw = head(origin, b"Host: x", b"Content-Length: 5", b"Content-Length: 6")
    r = reject(magpie, raw.replace(b"GET", b"POST", 1) + b"hello!")
    assert r.status == 400
    assert origin.request_count() == 0


def test_bad_chunk_size_is_400(magpie, origin):
    raw = head(origin, b"Host: x", b"Transfer-Encoding: chunked").replace(b"GET", b"POST", 1)
    r = reject(magpie, raw + b"zz\r\nhello\r\n0\r\n\r\n")
    assert r.status == 400


def test_obs_fold_is_400(magpie, origin):
    r = reject(magpie, head(origin, b"Host: x", b"X-Folded: first", b"  continued"))
    assert r.status == 400
    assert origin.request_count() == 0


def test_obs_fold_with_tab_is_400(magpie, origin):
    r = reject(magpie, head(origin, b"Host: x", b"X-Folded: first", b"\tcontinued"))
    assert r.status == 400
    assert origin.request_count() == 0


def test_bare_cr_in_head_is_400(magpie, origin):
    r = reject(magpie, head(origin, b"Host: x", b"X-Odd: a\rb"))
    assert r.status == 400
    assert origin.request_count() == 0


def test_bare_lf_in_head_is_400(magpie, origin):
    raw = ("GET %s HTTP/1.1\r\nHost: x\nX-Odd: b\r\n\r\n" % origin.url("/echo")).encode()
    r = reject(magpie, raw)
    assert r.status == 400
    assert origin.request_count() == 0


# -- ACL ------------------------------------------------------------------------------

def test_client_outside_acl_is_403(magpie_factory, origin):
    magpie = magpie_factory(acl={"allow": ["10.0.0.0/8"]})
    r = fetch(magpie.port, "GET", origin.url("/bytes/3"))
    assert r.status == 403
    assert is_error_body(r), r.body
    assert origin.request_count() == 0


# -- upstream failures ------------------------------------------------------------------

def test_unknown_host_is_502(magpie, origin, dns):
    r = fetch(magpie.port, "GET", "http://nxdomain.test:%d/bytes/3" % origin.port)
    assert r.status == 502
    assert is_error_body(r), r.body
    assert dns.queries_for("nxdomain.test") or dns.queries_for("nxdomain.test", "AAAA"), \
        "magpie did not ask the configured DNS server"


def test_connection_refused_is_502(magpie, closed_port):
    r = fetch(magpie.port, "GET", "http://127.0.0.1:%d/" % closed_port)
    assert r.status == 502
    assert is_error_body(r), r.body


def test_no_response_within_read_timeout_is_504(magpie_factory, origin):
    magpie = magpie_factory(upstream={"read_timeout": "1s"})
    start = time.monotonic()
    r = fetch(magpie.port, "GET", origin.url("/hang"))
    took = time.monotonic() - start
    assert r.status == 504
    assert is_error_body(r), r.body
    assert 0.8 <= took < 5, "504 after %.2f s with read_timeout 1s" % took


def test_connect_timeout_is_504(magpie_factory, blackhole):
    magpie = magpie_factory(upstream={"connect_timeout": "1s"})
    start = time.monotonic()
    r = fetch(magpie.port, "GET", "http://127.0.0.1:%d/" % blackhole)
    took = time.monotonic() - start
    assert r.status == 504
    assert is_error_body(r), r.body
    assert 0.8 <= took < 5, "504 after %.2f s with connect_timeout 1s" % took


def test_slow_origin_within_read_timeout_is_served(magpie_factory, origin):
    magpie = magpie_factory(upstream={"read_timeout": "2s"})
    r = fetch(magpie.port, "GET", origin.url("/slow/0.5"))
    assert r.status == 200 and r.body == b"slow\n"


def test_error_response_is_logged_with_client_address_and_reason(magpie, origin):
    with magpie.conn() as c:
        port = c.local_port
        c.send(b"GARBAGE\r\n\r\n")
        r = c.read_response()
    assert r.status == 400 and is_error_body(r)
    reason = r.body.decode()[len("magpie: "):].strip()
    magpie.wait_error_log(r"^\S+ \[\w+\] .*127\.0\.0\.1:%d\b.*%s" % (port, re.escape(reason)))


# -- truncated upstream bodies --------------------------------------------------------

def test_truncated_body_closes_client_connection(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/truncate/100000"))
        assert r.status == 200
        assert r.header("content-length") == "100000"
        assert not r.complete and len(r.body) < 100000
        assert c.eof, "magpie did not close the connection after a truncated body"


def test_truncated_chunked_body_has_no_last_chunk(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/truncate-chunked/100000"))
        assert r.status == 200 and r.chunked
        assert not r.complete, "a truncated chunked body was terminated as if complete"
        assert c.eof


def test_truncated_body_for_http10_client_keeps_its_length(magpie, origin):
    # Dropping Content-Length for an HTTP/1.0 client would make the short,
    # close-delimited body look complete.
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/truncate/50000"), version="HTTP/1.0")
        assert r.status == 200
        assert r.header("content-length") == "50000"
        assert len(r.body) < 50000 and c.eof


@pytest.mark.parametrize("path", ["/truncate/100000", "/truncate-chunked/100000"])
def test_curl_sees_truncation(magpie, origin, path):
    p = subprocess.run(["curl", "-q", "-sS", "-o", "/dev/null", "-x", magpie.proxy_url,
                        origin.url(path)],
                       env=clean_env(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 18, "curl exit %d: %s" % (p.returncode, p.stderr)
    assert re.search(r"transfer closed", p.stderr)
