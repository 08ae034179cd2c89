"""Header rewriting: Via in both directions, loop detection, hop-by-hop removal."""

import json
import urllib.parse

from rawhttp import fetch, is_error_body

VIA = "1.1 magpie-test"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
              "proxy-authorization"}


def received_headers(r):
    assert r.status == 200, r
    return [(n.lower(), v) for n, v in json.loads(r.body)["headers"]]


def test_via_is_added_to_request(magpie, origin):
    hdrs = received_headers(fetch(magpie.port, "GET", origin.url("/echo")))
    assert ("via", VIA) in hdrs


def test_via_is_appended_to_existing_request_via(magpie, origin):
    hdrs = received_headers(fetch(magpie.port, "GET", origin.url("/echo"),
                                  headers=[("Via", "1.0 downstream")]))
    vias = [v for n, v in hdrs if n == "via"]
    assert ", ".join(vias) == "1.0 downstream, " + VIA


def test_via_is_added_to_response(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/bytes/3"))
    assert r.header_all("via") == [VIA]


def test_via_is_appended_to_existing_response_via(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/headers?Via=1.1%20upstream-cache"))
    assert r.status == 200
    assert ", ".join(r.header_all("via")) == "1.1 upstream-cache, " + VIA


def test_request_already_through_this_proxy_is_refused_as_loop(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/echo"), headers=[("Via", "1.1 other, " + VIA)])
    assert r.status == 508
    assert is_error_body(r), r.body
    assert origin.request_count() == 0 and origin.connections == 0


def test_other_proxy_names_in_via_are_not_a_loop(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/echo"),
              headers=[("Via", "1.1 magpie-test-other, 1.0 magpie")])
    assert r.status == 200


def test_hop_by_hop_request_headers_are_removed(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/echo"), headers=[
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "must go"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c-not-really"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("X-End-To-End", "stays"),
    ])
    hdrs = received_headers(r)
    names = {n for n, _ in hdrs}
    leaked = (HOP_BY_HOP - {"connection"}) & names | ({"x-hop"} & names)
    assert not leaked, "hop-by-hop headers reached the origin: %s" % sorted(leaked)
    conn_tokens = [t.strip().lower() for n, v in hdrs if n == "connection" for t in v.split(",")]
    assert "x-hop" not in conn_tokens
    assert ("x-end-to-end", "stays") in hdrs


def test_via_named_in_connection_is_not_forwarded(magpie, origin):
    """A Via the client marked as its own hop's goes no further: only ours does."""
    hdrs = received_headers(fetch(magpie.port, "GET", origin.url("/echo"), headers=[
        ("Connection", "Via"), ("Via", "1.0 private-hop")]))
    assert [v for n, v in hdrs if n == "via"] == [VIA]


def test_response_via_named_in_connection_is_not_relayed(magpie, origin):
    q = urllib.parse.urlencode([("Connection", "Via"), ("Via", "1.1 private-hop")])
    r = fetch(magpie.port, "GET", origin.url("/headers?" + q))
    assert r.status == 200
    assert r.header_all("via") == [VIA]


def test_hop_by_hop_response_headers_are_removed(magpie, origin):
    q = urllib.parse.urlencode([
        ("Connection", "X-Foo"),
        ("X-Foo", "must go"),
        ("Keep-Alive", "timeout=5, max=100"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "websocket"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("X-End-To-End", "stays"),
    ])
    r = fetch(magpie.port, "GET", origin.url("/headers?" + q))
    assert r.status == 200 and r.body == b"headers\n"
    names = r.header_names()
    for h in ("x-foo", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
              "proxy-authorization"):
        assert h not in names, "%s reached the client: %r" % (h, r.headers)
    assert "x-foo" not in r.tokens("connection")
    assert r.header("x-end-to-end") == "stays"
