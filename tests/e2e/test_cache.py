"""The disk cache as clients see it: what is stored and served (RFC 9111),
the headers that say so (Cache-Status, X-Cache, Age), conditionals and
ranges answered from the store, invalidation, PURGE, per-route settings,
and persistence across a restart. The origin numbers its responses, so a
hit is a response whose number did not move."""

import signal
import time
import urllib.parse

import rawhttp
from rawhttp import fetch

CC60 = "Cache-Control=public%2C%20max-age%3D60"


def headers_url(origin, query, path="/headers"):
    return origin.url("%s?%s" % (path, query))


def number(r):
    return int(r.header("x-response-number"))


def test_miss_then_hit(magpie, origin):
    url = headers_url(origin, CC60)
    r1 = fetch(magpie.port, "GET", url)
    assert r1.status == 200
    assert r1.header("x-cache") == "MISS"
    assert r1.header("cache-status") == "magpie; fwd=uri-miss; stored"
    r2 = fetch(magpie.port, "GET", url)
    assert r2.status == 200 and r2.body == r1.body
    assert r2.header("x-cache") == "HIT"
    # ttl= is the freshness left of the 60 s max-age, rounded down
    left = 60 - int(r2.header("age"))
    assert r2.header("cache-status") in ("magpie; hit; ttl=%d" % left,
                                         "magpie; hit; ttl=%d" % (left - 1)), r2.header("cache-status")
    assert number(r2) == number(r1), "the second answer came from the origin"
    assert r2.header("age") is not None and int(r2.header("age")) >= 0
    line = magpie.wait_access_line(lambda l: url in l and " HIT " in l)
    assert line.split()[8] == "-", "a hit contacts no upstream"


def test_large_hit_is_sent_whole(magpie_factory, origin):
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"default_ttl": "60s"}}])
    r1 = fetch(m.port, "GET", "/bytes/3000000", host="api.local")
    r2 = fetch(m.port, "GET", "/bytes/3000000", host="api.local")
    assert r2.header("x-cache") == "HIT"
    assert r2.body == r1.body and len(r2.body) == 3000000


def test_no_store_response_is_not_stored(magpie, origin):
    url = headers_url(origin, "Cache-Control=no-store")
    r1 = fetch(magpie.port, "GET", url)
    r2 = fetch(magpie.port, "GET", url)
    assert r1.header("x-cache") == "MISS" and r2.header("x-cache") == "MISS"
    assert r1.header("cache-status") == "magpie; fwd=uri-miss; detail=no-store"
    assert number(r2) != number(r1)


def test_private_response_is_not_stored(magpie, origin):
    url = headers_url(origin, "Cache-Control=private%2C%20max-age%3D60")
    r1 = fetch(magpie.port, "GET", url)
    r2 = fetch(magpie.port, "GET", url)
    assert number(r2) != number(r1)


def test_authorization_needs_public(magpie, origin):
    plain = headers_url(origin, "Cache-Control=max-age%3D60")
    auth = [("Authorization", "Bearer x")]
    r1 = fetch(magpie.port, "GET", plain, headers=auth)
    r2 = fetch(magpie.port, "GET", plain, headers=auth)
    assert number(r2) != number(r1), "stored a response to an authorized request"
    public = headers_url(origin, CC60)
    p1 = fetch(magpie.port, "GET", public, headers=auth)
    p2 = fetch(magpie.port, "GET", public, headers=auth)
    assert number(p2) == number(p1)


def test_request_no_store_bypasses(magpie, origin):
    url = headers_url(origin, CC60)
    r1 = fetch(magpie.port, "GET", url, headers=[("Cache-Control", "no-store")])
    assert r1.header("x-cache") == "BYPASS"
    r2 = fetch(magpie.port, "GET", url)
    assert r2.header("x-cache") == "MISS"


def test_head_is_answered_from_a_stored_get(magpie, origin):
    url = headers_url(origin, CC60)
    r1 = fetch(magpie.port, "GET", url)
    h = fetch(magpie.port, "HEAD", url)
    assert h.status == 200 and h.body == b""
    assert h.header("x-cache") == "HIT"
    assert int(h.header("content-length")) == len(r1.body)
    assert number(h) == number(r1)


def test_if_none_match_gets_304_from_the_cache(magpie, origin):
    url = headers_url(origin, CC60 + "&ETag=%22v1%22")
    r1 = fetch(magpie.port, "GET", url)
    assert r1.header("etag") == '"v1"'
    r2 = fetch(magpie.port, "GET", url, headers=[("If-None-Match", '"v1"')])
    assert r2.status == 304 and r2.body == b""
    assert r2.header("x-cache") == "HIT"
    r3 = fetch(magpie.port, "GET", url, headers=[("If-None-Match", '"other"')])
    assert r3.status == 200 and r3.body == r1.body
    assert len(origin.requests) == 1


def test_if_modified_since_gets_304_from_the_cache(magpie, origin):
    lm = urllib.parse.quote("Mon, 01 Jan 2024 00:00:00 GMT")
    url = headers_url(origin, CC60 + "&Last-Modified=" + lm)
    fetch(magpie.port, "GET", url)
    r = fetch(magpie.port, "GET", url, headers=[("If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT")])
    assert r.status == 304
    r = fetch(magpie.port, "GET", url, headers=[("If-Modified-Since", "Sun, 31 Dec 2023 00:00:00 GMT")])
    assert r.status == 200


def test_range_is_answered_from_the_cache(magpie, origin):
    url = headers_url(origin, CC60)
    full = fetch(magpie.port, "GET", url).body
    r = fetch(magpie.port, "GET", url, headers=[("Range", "bytes=1-3")])
    assert r.status == 206 and r.body == full[1:4]
    assert r.header("content-range") == "bytes 1-3/%d" % len(full)
    r = fetch(magpie.port, "GET", url, headers=[("Range", "bytes=-2")])
    assert r.status == 206 and r.body == full[-2:]
    r = fetch(magpie.port, "GET", url, headers=[("Range", "bytes=1000-")])
    assert r.status == 416
    assert r.header("content-range") == "bytes */%d" % len(full)
    assert len(origin.requests) == 1


def test_vary_keeps_one_variant_per_request_value(magpie, origin):
    url = headers_url(origin, CC60 + "&Vary=Accept-Language")
    en1 = fetch(magpie.port, "GET", url, headers=[("Accept-Language", "en")])
    fr1 = fetch(magpie.port, "GET", url, headers=[("Accept-Language", "fr")])
    assert number(fr1) != number(en1)
    en2 = fetch(magpie.port, "GET", url, headers=[("Accept-Language", "en")])
    fr2 = fetch(magpie.port, "GET", url, headers=[("Accept-Language", "fr")])
    assert number(en2) == number(en1) and number(fr2) == number(fr1)
    assert en2.header("x-cache") == "HIT"


def test_vary_star_is_never_stored(magpie, origin):
    url = headers_url(origin, CC60 + "&Vary=%2A")
    r1 = fetch(magpie.port, "GET", url)
    r2 = fetch(magpie.port, "GET", url)
    assert number(r2) != number(r1)


def test_stale_response_is_fetched_again(magpie, origin):
    url = headers_url(origin, "Cache-Control=max-age%3D1")
    r1 = fetch(magpie.port, "GET", url)
    assert fetch(magpie.port, "GET", url).header("x-cache") == "HIT"
    time.sleep(1.3)
    r3 = fetch(magpie.port, "GET", url)
    assert r3.header("x-cache") == "STALE"
    assert number(r3) != number(r1)


def test_request_max_age_zero_goes_upstream(magpie, origin):
    url = headers_url(origin, CC60)
    r1 = fetch(magpie.port, "GET", url)
    r2 = fetch(magpie.port, "GET", url, headers=[("Cache-Control", "max-age=0")])
    assert number(r2) != number(r1)


def test_only_if_cached_miss_is_504(magpie, origin):
    r = fetch(magpie.port, "GET", headers_url(origin, CC60 + "&x=never"),
              headers=[("Cache-Control", "only-if-cached")])
    assert r.status == 504
    assert len(origin.requests) == 0


def test_post_invalidates_the_stored_response(magpie, origin):
    url = headers_url(origin, CC60)
    r1 = fetch(magpie.port, "GET", url)
    assert fetch(magpie.port, "GET", url).header("x-cache") == "HIT"
    p = fetch(magpie.port, "POST", url, body=b"x")
    assert p.status == 200
    r3 = fetch(magpie.port, "GET", url)
    assert r3.header("x-cache") == "MISS" and number(r3) != number(r1)


def test_purge_removes_and_then_404(magpie, origin):
    url = headers_url(origin, CC60)
    fetch(magpie.port, "GET", url)
    r = fetch(magpie.port, "PURGE", url)
    assert r.status == 200
    r = fetch(magpie.port, "PURGE", url)
    assert r.status == 404
    assert fetch(magpie.port, "GET", url).header("x-cache") == "MISS"


def test_purge_from_outside_purge_allow_is_403(magpie_factory, origin):
    m = magpie_factory(admin={"purge_allow": ["10.0.0.0/8"]})
    url = headers_url(origin, CC60)
    fetch(m.port, "GET", url)
    assert fetch(m.port, "PURGE", url).status == 403
    assert fetch(m.port, "GET", url).header("x-cache") == "HIT"


def test_local_answers_keep_the_connection(magpie, origin):
    """PURGE and only-if-cached are answered by magpie from the request
    head; a bodiless request is complete by then, so the connection stays
    open for the next one, pipelined or not."""
    url = headers_url(origin, CC60)
    with rawhttp.Conn(magpie.port) as c:
        r = c.request("PURGE", url)
        assert r.status == 404 and r.header("connection") == "keep-alive"
        r = c.request("GET", url, headers=[("Cache-Control", "only-if-cached")])
        assert r.status == 504 and r.header("connection") == "keep-alive"
        assert c.request("GET", url).header("x-cache") == "MISS"
        # pipelined: a local answer, a hit, a local answer, a miss
        c.send(rawhttp.build_request("PURGE", origin.url("/nothing-here")) +
               rawhttp.build_request("GET", url) +
               rawhttp.build_request("PURGE", url) +
               rawhttp.build_request("GET", url))
        got = [c.read_response() for _ in range(4)]
        assert [g.status for g in got] == [404, 200, 200, 200]
        assert got[1].header("x-cache") == "HIT" and got[3].header("x-cache") == "MISS"
        assert not c.closed_by_peer(timeout=0.5)


def test_query_order_is_normalised(magpie, origin):
    a = origin.url("/headers?%s&a=1&b=2" % CC60)
    b = origin.url("/headers?b=2&a=1&%s" % CC60)
    r1 = fetch(magpie.port, "GET", a)
    r2 = fetch(magpie.port, "GET", b)
    assert r2.header("x-cache") == "HIT" and number(r2) == number(r1)


def test_route_default_ttl_and_ignored_params(magpie_factory, origin):
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"default_ttl": "60s",
                                          "ignore_query_params": ["utm_source"]}}])
    r1 = fetch(m.port, "GET", "/bytes/100?utm_source=a", host="api.local")
    r2 = fetch(m.port, "GET", "/bytes/100?utm_source=b", host="api.local")
    assert r1.header("x-cache") == "MISS"
    assert r2.header("x-cache") == "HIT" and number(r2) == number(r1)


def test_route_cache_disabled_bypasses(magpie_factory, origin):
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"enabled": False}}])
    r1 = fetch(m.port, "GET", "/headers?%s" % CC60, host="api.local")
    r2 = fetch(m.port, "GET", "/headers?%s" % CC60, host="api.local")
    assert r1.header("x-cache") == "BYPASS" and number(r2) != number(r1)


def test_restart_keeps_the_cache(magpie_factory, origin):
    m = magpie_factory()
    url = headers_url(origin, CC60)
    r1 = fetch(m.port, "GET", url)
    m.signal(signal.SIGTERM)
    assert m.expect_exit(10) == 0
    m.start()
    m.checked = False  # the restarted daemon is checked at teardown too
    r2 = fetch(m.port, "GET", url)
    assert r2.header("x-cache") == "HIT" and number(r2) == number(r1)
    assert len(origin.requests) == 1


def _concurrently(n, fn):
    import threading
    results = [None] * n
    errors = []

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # reported below, with the others
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    return results


def test_concurrent_misses_make_one_origin_request(magpie_factory, origin):
    from origin import pattern
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"default_ttl": "60s"}}])
    rs = _concurrently(50, lambda i: fetch(m.port, "GET", "/drip/200000/1", host="api.local",
                                           timeout=20))
    assert all(r.status == 200 and r.body == pattern(200000) for r in rs)
    got = [r for r in origin.requests if "/drip/" in r.target]
    assert len(got) == 1, "%d origin requests for one URL" % len(got)
    assert sum(1 for r in rs if "collapsed" in r.header("cache-status")) >= 1


def test_collapsed_waiters_of_an_uncacheable_response_fetch_for_themselves(magpie, origin):
    rs = _concurrently(10, lambda i: fetch(magpie.port, "GET", origin.url("/slow/0.5"), timeout=20))
    assert all(r.status == 200 and r.body == b"slow\n" for r in rs)
    numbers = {r.header("x-response-number") for r in rs}
    assert len(numbers) == 10, "every waiter got its own response"


def test_range_requests_following_a_fetch_get_their_range(magpie_factory, origin):
    from origin import pattern
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"default_ttl": "60s"}}])

    def one(i):
        if i == 0:
            return fetch(m.port, "GET", "/drip/100000/1", host="api.local", timeout=20)
        time.sleep(0.2)  # the plain GET leads the fetch; the ranges follow it
        # on a kept-alive connection, so bytes past the range would break the next answer
        with m.conn(timeout=20) as c:
            r = c.request("GET", "/drip/100000/1", host="api.local",
                          headers=[("Range", "bytes=5-9")])
            nxt = c.request("GET", "/headers?%s&n=%d" % (CC60, i), host="api.local")
            assert nxt.status == 200 and nxt.body == b"headers\n", nxt
            return r

    rs = _concurrently(8, one)
    assert rs[0].status == 200 and rs[0].body == pattern(100000)
    for r in rs[1:]:
        assert r.status == 206 and r.body == pattern(100000)[5:10], r
    assert len([r for r in origin.requests if "/drip/" in r.target]) == 1
