"""GET /cache?url= on the admin listener: what the cache holds for a URL, as
JSON. Responses are stored through the proxy, then inspected; every value
checked is one the cache itself decides (key, variants, age, lifetime and
its source, validators, memory tier)."""

import email.utils
import json
import time
import urllib.parse

import rawhttp
from conftest import free_port


def admin_magpie(magpie_factory, **more):
    port = free_port()
    m = magpie_factory(admin={"listen": ["127.0.0.1:%d" % port]}, **more)
    m.admin_port = port
    return m


def inspect_raw(m, target, method="GET"):
    return rawhttp.fetch(m.admin_port, method, target, host="127.0.0.1")


def inspect(m, url):
    r = inspect_raw(m, "/cache?url=" + urllib.parse.quote(url, safe=""))
    assert r.status == 200, (r.status, r.body)
    assert r.header("content-type") == "application/json"
    doc = json.loads(r.body)
    assert doc["url"] == url
    return doc


def httpdate(t):
    return email.utils.formatdate(t, usegmt=True)


def headers_url(origin, **fields):
    return origin.url("/headers?" + urllib.parse.urlencode(fields))


def test_a_stored_response_with_validators(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    lm = httpdate(time.time() - 3600)
    url = headers_url(origin, **{"Cache-Control": "max-age=100", "ETag": '"v1"',
                                 "Last-Modified": lm})
    assert inspect(m, url)["variants"] == [], "nothing stored yet"
    assert rawhttp.fetch(m.port, "GET", url).header("x-cache") == "MISS"
    doc = inspect(m, url)
    assert doc["enabled"] is True
    fwd = [k for k in doc["keys"] if k["route"] is None]
    assert len(fwd) == 1 and fwd[0]["rule"] == "default"
    # the key the cache made: port written, query parameters sorted by name
    query = sorted(urllib.parse.urlparse(url).query.split("&"))
    assert fwd[0]["key"] == "http://%s/headers?%s" % (origin.authority, "&".join(query))
    [v] = doc["variants"]
    assert v["key"] == fwd[0]["key"]
    assert v["status"] == 200 and v["vary"] == "" and v["request_values"] == {}
    assert v["lifetime"] == 100 and v["lifetime_source"] == "max-age"
    assert v["fresh"] is True and v["use"] == "fresh"
    assert v["etag"] == '"v1"' and v["last_modified"] == lm
    assert v["body_bytes"] == len(b"headers\n") and v["size"] > v["body_bytes"]
    assert v["coding"] == "identity"
    assert v["memory"] is False, "a copy is made by the first hit, not by storing"
    assert len(v["file"]) == 6 + 64 and v["file"][2] == "/" and v["file"][5] == "/"
    assert abs(v["stored_at"] - time.time()) < 5 and v["requested_at"] <= v["stored_at"]
    age0 = v["age"]
    assert 0 <= age0 <= 1 and v["ttl"] == 100 - age0
    assert rawhttp.fetch(m.port, "GET", url).header("x-cache") == "HIT"
    time.sleep(2.1)
    [v2] = inspect(m, url)["variants"]
    assert v2["memory"] is True, "the hit copied it into the memory tier"
    assert v2["age"] >= age0 + 2 and v2["ttl"] == 100 - v2["age"]
    assert v2["stored_at"] == v["stored_at"] and v2["file"] == v["file"]


def test_vary_variants_each_with_their_request_values(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    url = headers_url(origin, **{"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"})
    for ae in ("gzip", "br"):
        r = rawhttp.fetch(m.port, "GET", url, headers=[("Accept-Encoding", ae)])
        assert r.header("x-cache") == "MISS"
    rawhttp.fetch(m.port, "GET", url)  # a third: without the field at all
    vs = inspect(m, url)["variants"]
    assert len(vs) == 3
    assert [v["request_values"] for v in vs] == [
        {"accept-encoding": None}, {"accept-encoding": "br"}, {"accept-encoding": "gzip"}
    ], "newest stored first; absent is null, not empty"
    assert all(v["vary"] == "Accept-Encoding" for v in vs)
    assert len({v["file"] for v in vs}) == 3 and len({v["key"] for v in vs}) == 1
    # PURGE removes every variant, and the inspection sees it
    assert rawhttp.fetch(m.port, "PURGE", url).status == 200
    assert inspect(m, url)["variants"] == []


def test_heuristic_and_rule_lifetimes(magpie_factory, origin):
    m = admin_magpie(magpie_factory, cache={
        "rules": [{"match": "/plain/", "default_ttl": "30s"},
                  {"match": "/headers\\?Cache-Control=max-age%3D9000", "max_ttl": "50s"}]})
    heur = headers_url(origin, **{"Last-Modified": httpdate(time.time() - 1000)})
    rawhttp.fetch(m.port, "GET", heur)
    [v] = inspect(m, heur)["variants"]
    assert v["lifetime_source"] == "heuristic"
    assert 98 <= v["lifetime"] <= 101, "a tenth of the 1000 s since Last-Modified"
    assert v["etag"] is None
    plain = origin.url("/plain/a")
    rawhttp.fetch(m.port, "GET", plain)
    doc = inspect(m, plain)
    assert doc["keys"][0]["rule"] == "cache.rules[0]"
    [v] = doc["variants"]
    assert v["lifetime"] == 30 and v["lifetime_source"] == "default_ttl"
    assert v["last_modified"] is None
    capped = headers_url(origin, **{"Cache-Control": "max-age=9000"})
    rawhttp.fetch(m.port, "GET", capped)
    doc = inspect(m, capped)
    assert doc["keys"][0]["rule"] == "cache.rules[1]"
    [v] = doc["variants"]
    assert v["lifetime"] == 50 and v["lifetime_source"] == "max_ttl"


def test_a_stale_response_says_so(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    url = headers_url(origin, **{"Cache-Control": "max-age=1", "ETag": '"s"'})
    rawhttp.fetch(m.port, "GET", url)
    time.sleep(2.1)
    [v] = inspect(m, url)["variants"]
    assert v["fresh"] is False and v["use"] == "revalidate" and v["ttl"] < 0


def test_a_reverse_route_is_keyed_on_the_host(magpie_factory, origin):
    m = admin_magpie(magpie_factory)  # routes api.local to the origin
    path = "/headers?Cache-Control=max-age%3D60"
    r = rawhttp.fetch(m.port, "GET", path, host="api.local")
    assert r.status == 200 and r.header("x-cache") == "MISS"
    doc = inspect(m, "http://api.local" + path)
    routed = [k for k in doc["keys"] if k["route"] == "api.local"]
    assert [k["key"] for k in routed] == ["routed://api.local" + path]
    [v] = doc["variants"]
    assert v["key"] == "routed://api.local" + path and v["lifetime"] == 60
    # the Host as sent is the key: with a port it is another entry
    assert inspect(m, "http://api.local:80" + path)["variants"] == []


def test_bad_requests_are_refused_with_a_reason(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    good = urllib.parse.quote(origin.url("/x"), safe="")
    cases = [
        ("/cache", "needs ?url="),
        ("/cache?other=1", "needs ?url="),
        ("/cache?url=%s&url=%s" % (good, good), "more than once"),
        ("/cache?url=%s&x=1" % good, "url= alone"),
        ("/cache?url=http://a.test/x?b=1&c=2", "url= alone"),  # an unescaped &
        ("/cache?url=http%3A%2F%2Fa.test%2F%zz", "malformed"),
        ("/cache?url=http%3A%2F%2Fa.test%2F%00", "malformed"),
        ("/cache?url=http%3A%2F%2Fa.test%2Fx%0D%0AX-Evil%3A%201", "control character"),
        ("/cache?url=http%3A%2F%2Fa%01b.test%2F", "control character"),
        ("/cache?url=http%3A%2F%2Fa%21b.test%2F", "not an absolute"),  # "!" in a host
        ("/cache?url=http%3A%2F%2Fu%40a.test%2F", "not an absolute"),  # userinfo
        ("/cache?url=ftp%3A%2F%2Fa.test%2F", "not an absolute"),
        ("/cache?url=%2Fpath", "not an absolute"),
        ("/cache?url=", "not an absolute"),
        ("/cache?url=http%3A%2F%2Fa.test%2F%3F" + "%26".join(["p%d" % i for i in range(300)]),
         "no cache key"),
    ]
    for target, why in cases:
        r = inspect_raw(m, target)
        assert r.status == 400, (target, r.status, r.body)
        assert why in r.body.decode(), (target, r.body)
    assert inspect_raw(m, "/cache?url=" + "a" * 9000).status == 414
    assert rawhttp.fetch(m.admin_port, "POST", "/cache?url=" + good, host="x",
                         body=b"").status == 405
    r = inspect_raw(m, "/cache?url=" + good, method="HEAD")
    assert r.status == 200 and r.body == b""
    assert r.header("content-type") == "application/json"


def test_any_bytes_come_out_as_valid_json(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    url = origin.url("/x\xff\"\\\x7e")
    target = "/cache?url=" + urllib.parse.quote(url.encode("latin-1"), safe="")
    r = inspect_raw(m, target)
    assert r.status == 200, r.body
    doc = json.loads(r.body)
    assert doc["url"].endswith("/x\u00ff\"\\~") and doc["variants"] == []
    assert b"\\u00ff" in r.body, "a byte that is not UTF-8 is escaped as itself"


def test_without_a_cache_the_list_is_empty(magpie_factory, origin):
    m = admin_magpie(magpie_factory, cache={"enabled": False})
    doc = inspect(m, origin.url("/x"))
    assert doc["enabled"] is False and doc["variants"] == []
