"""Redirect rules (issue 12, item 1): answered by magpie before the cache
and the origin, in forward and reverse mode; CONNECT untouched."""

import pytest

import rawhttp

HOPS = ("x-cache", "cache-status")


def redirecting(magpie_factory, origin, rules, **more):
    return magpie_factory(redirects=rules, **more)


def test_a_matching_url_is_answered_with_its_location(magpie_factory, origin):
    m = redirecting(magpie_factory, origin, [
        {"match": r"^http://127\.0\.0\.1:%d/old/(.*)$" % origin.port,
         "to": "https://new.example/$1", "status": 301}])
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/old/a/b?x=1"))
    assert r.status == 301, r
    assert r.header("location") == "https://new.example/a/b?x=1"
    assert "max-age" in (r.header("cache-control") or ""), "a 301 is cacheable"
    assert r.body and b"https://new.example/a/b?x=1" in r.body
    assert origin.request_count() == before, "a redirect rule asks no origin"
    line = m.wait_access_line(lambda l: "/old/a/b" in l)
    assert line.split()[7] == "REDIRECT", line


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_each_status(magpie_factory, origin, status):
    m = redirecting(magpie_factory, origin, [
        {"match": "/s$", "to": "http://elsewhere.example/", "status": status}])
    r = rawhttp.fetch(m.port, "GET", origin.url("/s"))
    assert r.status == status and r.header("location") == "http://elsewhere.example/"
    cc = r.header("cache-control") or ""
    if status in (301, 308):
        assert "max-age" in cc, cc
    else:
        assert "no-store" in cc, "a temporary redirect is not for caches: %r" % cc


def test_the_first_matching_rule_applies_and_others_pass(magpie_factory, origin):
    m = redirecting(magpie_factory, origin, [
        {"match": "/a/", "to": "http://first.example/", "status": 302},
        {"match": "/a/b", "to": "http://second.example/", "status": 302}])
    r = rawhttp.fetch(m.port, "GET", origin.url("/a/b"))
    assert r.header("location") == "http://first.example/"
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/bytes/5"))
    assert r.status == 200 and origin.request_count() == before + 1, "no rule: to the origin"


def test_groups_fill_the_template_and_dollars_stay(magpie_factory, origin):
    m = redirecting(magpie_factory, origin, [
        {"match": r"^http://[^/]+/(\w+)/(\w+)(/z)?$", "to": "http://n.example/$2/$1$3?p=$$", "status": 307}])
    r = rawhttp.fetch(m.port, "GET", origin.url("/one/two"))
    assert r.header("location") == "http://n.example/two/one?p=$", "an unset group is empty"


def test_reverse_mode_matches_the_routed_url(magpie_factory, origin):
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url("")}],
                       redirects=[{"match": r"^http://api\.local/v1/(.*)$",
                                   "to": "http://api.local/v2/$1", "status": 308}])
    r = rawhttp.fetch(m.port, "GET", "/v1/users?id=3", host="api.local")
    assert r.status == 308 and r.header("location") == "http://api.local/v2/users?id=3"


def test_head_gets_the_redirect_without_a_body(magpie_factory, origin):
    m = redirecting(magpie_factory, origin, [{"match": "/h$", "to": "http://x.example/"}])
    with rawhttp.Conn(m.port) as c:
        r = c.request("HEAD", origin.url("/h"))
        assert r.status == 301 and r.header("location") == "http://x.example/"
        assert not r.body
        again = c.request("GET", origin.url("/bytes/5"))
        assert again.status == 200, "the connection is kept after a redirect"


def test_a_post_with_a_body_is_redirected_and_the_connection_closed(magpie_factory, origin):
    m = redirecting(magpie_factory, origin, [{"match": "/p$", "to": "http://x.example/",
                                              "status": 307}])
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "POST", origin.url("/p"), body=b"data")
    assert r.status == 307 and r.header("location") == "http://x.example/"
    assert origin.request_count() == before, "the body never goes up"


def test_connect_is_not_redirected(magpie_factory, origin):
    m = redirecting(magpie_factory, origin, [{"match": ".*", "to": "http://x.example/"}],
                    connect={"allowed_ports": [origin.port]})
    with rawhttp.Conn(m.port) as c:
        c.send(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                % (origin.port, origin.port)).encode())
        assert c.wait_for(b"\r\n\r\n")
        assert c.buf.split(b"\r\n", 1)[0].split(b" ")[1] == b"200", c.buf[:200]


def test_a_bad_pattern_is_a_config_error_with_its_place(magpie_factory, origin, tmp_path):
    from conftest import StartError
    with pytest.raises(StartError) as e:
        magpie_factory(redirects=[{"match": "(", "to": "http://x.example/"}])
    text = str(e.value)
    assert "redirects" in text and "offset" in text, text


# -- item 5: redirects from the origin are cached per RFC 9111 ---------------------------------

def _answer(origin, code, **fields):
    from urllib.parse import urlencode
    return origin.url("/answer/%d?%s" % (code, urlencode(fields)))


@pytest.mark.parametrize("code", [301, 308])
def test_a_permanent_redirect_is_cached_heuristically_with_its_location(magpie_factory, origin,
                                                                        code):
    m = magpie_factory()
    url = _answer(origin, code, Location="http://moved.example/here",
                  **{"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})
    first = rawhttp.fetch(m.port, "GET", url)
    assert first.status == code and first.header("x-cache") == "MISS", first
    before = origin.request_count()
    again = rawhttp.fetch(m.port, "GET", url)
    assert again.status == code and again.header("x-cache") == "HIT", again
    assert again.header("location") == "http://moved.example/here"
    assert origin.request_count() == before


@pytest.mark.parametrize("code", [302, 303, 307])
def test_a_temporary_redirect_is_cached_only_with_explicit_freshness(magpie_factory, origin,
                                                                     code):
    m = magpie_factory()
    plain = _answer(origin, code, Location="http://t.example/a",
                    **{"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})
    rawhttp.fetch(m.port, "GET", plain)
    again = rawhttp.fetch(m.port, "GET", plain)
    assert again.header("x-cache") != "HIT", "no heuristic freshness for %d" % code
    fresh = _answer(origin, code, Location="http://t.example/b", **{"Cache-Control": "max-age=60"})
    rawhttp.fetch(m.port, "GET", fresh)
    hit = rawhttp.fetch(m.port, "GET", fresh)
    assert hit.status == code and hit.header("x-cache") == "HIT", hit
    assert hit.header("location") == "http://t.example/b"


# -- item 4: Location rewriting on reverse routes --------------------------------------------

def _routed(magpie_factory, origin, **route):
    return magpie_factory(routes=[dict({"host": "api.local", "origin": origin.url("")}, **route)])


def _path_answer(code, **fields):
    from urllib.parse import urlencode
    return "/answer/%d?%s" % (code, urlencode(fields))


def test_a_location_naming_the_origin_names_the_route(magpie_factory, origin):
    m = _routed(magpie_factory, origin)
    path = _path_answer(302, Location=origin.url("/next?a=1"),
                        **{"Content-Location": origin.url("/doc")})
    r = rawhttp.fetch(m.port, "GET", path, host="api.local")
    assert r.status == 302
    assert r.header("location") == "http://api.local/next?a=1"
    assert r.header("content-location") == "http://api.local/doc"


def test_a_location_elsewhere_or_with_rewriting_off_stays(magpie_factory, origin):
    m = _routed(magpie_factory, origin)
    other = "http://127.0.0.1:%d0/x" % origin.port  # the origin's port as a prefix of another
    r = rawhttp.fetch(m.port, "GET", _path_answer(302, Location=other), host="api.local")
    assert r.header("location") == other
    r = rawhttp.fetch(m.port, "GET", _path_answer(302, Location="http://cdn.example/x"),
                      host="api.local")
    assert r.header("location") == "http://cdn.example/x"
    off = _routed(magpie_factory, origin, rewrite_location=False)
    r = rawhttp.fetch(off.port, "GET", _path_answer(302, Location=origin.url("/y")),
                      host="api.local")
    assert r.header("location") == origin.url("/y")


def test_a_stored_redirect_is_rewritten_on_its_hits(magpie_factory, origin):
    m = _routed(magpie_factory, origin)
    path = _path_answer(301, Location=origin.url("/moved"),
                        **{"Cache-Control": "max-age=60"})
    first = rawhttp.fetch(m.port, "GET", path, host="api.local")
    assert first.header("location") == "http://api.local/moved"
    before = origin.request_count()
    for _ in range(2):  # the second from the memory tier's prepared copy, if any
        hit = rawhttp.fetch(m.port, "GET", path, host="api.local")
        assert hit.header("x-cache") == "HIT", hit
        assert hit.header("location") == "http://api.local/moved", hit
    assert origin.request_count() == before
