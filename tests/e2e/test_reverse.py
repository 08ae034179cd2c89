"""Reverse mode: origin-form requests routed by Host, with X-Forwarded-For."""

import json

from origin import pattern
from rawhttp import fetch, is_error_body


def echo(r):
    assert r.status == 200, r
    return json.loads(r.body)


def header(doc, name):
    return [v for n, v in doc["headers"] if n.lower() == name]


def test_route_by_host_reaches_its_origin(magpie, origin):
    r = fetch(magpie.port, "GET", "/bytes/500", host="api.local")
    assert r.status == 200
    assert r.body == pattern(500)
    assert "1.1 magpie-test" in r.tokens("via")
    assert [q.target for q in origin.requests] == ["/bytes/500"]


def test_route_post_body_reaches_origin(magpie, origin):
    doc = echo(fetch(magpie.port, "POST", "/echo", host="api.local", body=b"routed body"))
    assert doc["method"] == "POST" and doc["body"] == "routed body"


def test_route_host_matches_case_insensitively_and_without_port(magpie, origin):
    r = fetch(magpie.port, "GET", "/bytes/5", host="API.Local:%d" % magpie.port)
    assert r.status == 200 and r.body == pattern(5)


def test_reverse_adds_x_forwarded_for(magpie, origin):
    doc = echo(fetch(magpie.port, "GET", "/echo", host="api.local"))
    assert header(doc, "x-forwarded-for") == ["127.0.0.1"]


def test_reverse_appends_to_existing_x_forwarded_for(magpie, origin):
    doc = echo(fetch(magpie.port, "GET", "/echo", host="api.local",
                     headers=[("X-Forwarded-For", "192.0.2.7")]))
    assert ", ".join(header(doc, "x-forwarded-for")) == "192.0.2.7, 127.0.0.1"


def test_reverse_adds_via(magpie, origin):
    doc = echo(fetch(magpie.port, "GET", "/echo", host="api.local"))
    assert header(doc, "via") == ["1.1 magpie-test"]


def test_origin_form_with_unknown_host_is_400(magpie, origin):
    r = fetch(magpie.port, "GET", "/bytes/5", host="not-routed.local")
    assert r.status == 400
    assert is_error_body(r), r.body
    assert origin.request_count() == 0


def test_origin_form_without_host_is_400(magpie, origin):
    with magpie.conn() as c:
        c.send(b"GET /bytes/5 HTTP/1.0\r\n\r\n")
        r = c.read_response()
    assert r.status == 400
    assert is_error_body(r), r.body
    assert origin.request_count() == 0


def test_second_route_goes_to_its_own_origin(magpie_factory, origin):
    from origin import Origin

    other = Origin()
    try:
        m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url("")},
                                   {"host": "other.local", "origin": other.url("")}])
        r1 = fetch(m.port, "GET", "/bytes/1", host="other.local")
        r2 = fetch(m.port, "GET", "/bytes/2", host="api.local")
        assert r1.status == 200 and r2.status == 200
        assert [q.target for q in other.requests] == ["/bytes/1"]
        assert [q.target for q in origin.requests] == ["/bytes/2"]
    finally:
        other.stop()
