"""Cache rules (issue 12, item 2): per URL pattern, default_ttl (freshness
when the origin gives none), max_ttl (a cap on any), ignore_query_params and
enabled; the first matching rule governs, a route's own cache: block before
any of cache.rules."""

import urllib.parse

import rawhttp


def status_of(r):
    return r.header("cache-status") or ""


def twice(m, url, **kw):
    return rawhttp.fetch(m.port, "GET", url, **kw), rawhttp.fetch(m.port, "GET", url, **kw)


def test_an_apt_like_origin_is_cached_by_a_default_ttl_rule(magpie_factory, origin):
    """A mirror sends .deb files with no validators and no freshness: without a
    rule each request goes to the origin; with one the second is a hit."""
    plain = magpie_factory()
    url = origin.url("/plain/pool/main/h/hello_2.10_amd64.deb")
    before = origin.request_count()
    a, b = twice(plain, url)
    assert a.status == b.status == 200 and origin.request_count() == before + 2
    assert not status_of(b).startswith("magpie; hit")

    m = magpie_factory(cache={"rules": [{"match": r"\.deb$", "default_ttl": "30d"}]})
    before = origin.request_count()
    a, b = twice(m, url)
    assert a.body == b.body == b"pool/main/h/hello_2.10_amd64.deb\n"
    assert status_of(b).startswith("magpie; hit"), status_of(b)
    assert origin.request_count() == before + 1
    # the pattern decides: the same origin's other files are not governed by it
    before = origin.request_count()
    twice(m, origin.url("/plain/dists/bookworm/InRelease"))
    assert origin.request_count() == before + 2


def test_default_ttl_never_keeps_a_temporary_redirect(magpie_factory, origin):
    m = magpie_factory(cache={"rules": [{"match": "/answer/", "default_ttl": "1h"}]})
    url = origin.url("/answer/302?Location=/plain/x")
    before = origin.request_count()
    a, b = twice(m, url)
    assert a.status == b.status == 302 and origin.request_count() == before + 2
    url = origin.url("/answer/301?Location=/plain/x")  # a permanent one is kept
    before = origin.request_count()
    a, b = twice(m, url)
    assert b.status == 301 and origin.request_count() == before + 1


def test_max_ttl_caps_the_origins_freshness(magpie_factory, origin):
    """max-age=7200 at an Age of 3600 is fresh; capped at 60s it is stale."""
    q = "Cache-Control=%s&Age=3600" % urllib.parse.quote("max-age=7200", safe="")
    uncapped = magpie_factory()
    url = origin.url("/headers?" + q)
    before = origin.request_count()
    a, b = twice(uncapped, url)
    assert status_of(b).startswith("magpie; hit") and origin.request_count() == before + 1

    m = magpie_factory(cache={"rules": [{"match": "/headers", "max_ttl": "60s"}]})
    before = origin.request_count()
    a, b = twice(m, url)
    assert b.status == 200 and not status_of(b).startswith("magpie; hit"), status_of(b)
    assert origin.request_count() == before + 2


def test_max_ttl_caps_default_ttl_too(magpie_factory, origin):
    """default_ttl 1h under max_ttl 1h stays; the cap is checked at load."""
    m = magpie_factory(cache={"rules": [{"match": "/plain/", "default_ttl": "1h",
                                         "max_ttl": "1h"}]})
    a, b = twice(m, origin.url("/plain/capped"))
    assert status_of(b).startswith("magpie; hit")


def test_ignore_query_params_per_rule_in_forward_mode(magpie_factory, origin):
    m = magpie_factory(cache={"rules": [{"match": "/plain/", "default_ttl": "1h",
                                         "ignore_query_params": ["utm_source"]}]})
    before = origin.request_count()
    a = rawhttp.fetch(m.port, "GET", origin.url("/plain/doc?utm_source=mail&v=1"))
    b = rawhttp.fetch(m.port, "GET", origin.url("/plain/doc?v=1&utm_source=web"))
    c = rawhttp.fetch(m.port, "GET", origin.url("/plain/doc?v=1"))
    assert status_of(b).startswith("magpie; hit") and status_of(c).startswith("magpie; hit")
    assert origin.request_count() == before + 1
    d = rawhttp.fetch(m.port, "GET", origin.url("/plain/doc?v=2"))  # other parameters still count
    assert not status_of(d).startswith("magpie; hit")


def test_enabled_false_passes_the_cache(magpie_factory, origin):
    m = magpie_factory(cache={"rules": [{"match": "/headers", "enabled": False}]})
    url = origin.url("/headers?Cache-Control=%s" % urllib.parse.quote("max-age=60", safe=""))
    before = origin.request_count()
    a, b = twice(m, url)
    assert "fwd=bypass" in status_of(a) and "fwd=bypass" in status_of(b), status_of(b)
    assert origin.request_count() == before + 2
    line = m.wait_access_line(lambda l: "/headers?" in l)
    assert line.split()[7] == "BYPASS", line


def test_the_first_matching_rule_governs(magpie_factory, origin):
    m = magpie_factory(cache={"rules": [
        {"match": r"/plain/first/", "enabled": False},
        {"match": r"/plain/", "default_ttl": "1h"},
    ]})
    before = origin.request_count()
    twice(m, origin.url("/plain/first/x"))
    assert origin.request_count() == before + 2, "the first rule matched: not cached"
    a, b = twice(m, origin.url("/plain/second/x"))
    assert status_of(b).startswith("magpie; hit")


def test_patterns_see_the_absolute_url_with_scheme_and_query(magpie_factory, origin):
    m = magpie_factory(cache={"rules": [
        {"match": r"^http://127\.0\.0\.1:%d/plain/q\?v=1$" % origin.port, "default_ttl": "1h"}]})
    a, b = twice(m, origin.url("/plain/q?v=1"))
    assert status_of(b).startswith("magpie; hit")
    a, b = twice(m, origin.url("/plain/q?v=10"))
    assert not status_of(b).startswith("magpie; hit")


def test_a_routes_cache_block_comes_before_cache_rules(magpie_factory, origin):
    m = magpie_factory(
        routes=[{"host": "api.local", "origin": origin.url(""), "cache": {"default_ttl": "1h"}},
                {"host": "other.local", "origin": origin.url("")}],
        cache={"rules": [{"match": r"/plain/", "enabled": False}]})
    before = origin.request_count()
    a, b = twice(m, "/plain/routed", host="api.local")
    assert status_of(b).startswith("magpie; hit"), status_of(b)
    assert origin.request_count() == before + 1
    # a route without its own block is governed by cache.rules
    before = origin.request_count()
    a, b = twice(m, "/plain/routed", host="other.local")
    assert "fwd=bypass" in status_of(b) and origin.request_count() == before + 2
