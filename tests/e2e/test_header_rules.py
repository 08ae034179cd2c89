"""Header rules: request_headers and response_headers of routes and of
cache.rules. A request's edits reach the origin and are what the cache keys
and matches Vary on; a response's go to the client on misses and on hits
(the memory tier's too) and never into the store; magpie's own answers get
none. Names are matched case-insensitively."""

import json
import signal

import rawhttp
from rawhttp import fetch, is_error_body
from test_cache_keys import response, script  # noqa: F401 (script is a fixture)
from test_cache_store import cache_dir, file_for, quiescent

HOST = "api.local"
CC60 = "Cache-Control=public%2C%20max-age%3D60"


def echoed(r):
    """The request headers the origin's /echo saw, names lower-cased."""
    assert r.status == 200, r
    return [(n.lower(), v) for n, v in json.loads(r.body)["headers"]]


def values(fields, name):
    return [v for n, v in fields if n == name]


def sent(origin, name):
    """The values of name in the last request the origin got."""
    return origin.requests[-1].header_all(name)


def number(r):
    return int(r.header("x-response-number"))


def route(origin, **more):
    return dict({"host": HOST, "origin": origin.url("")}, **more)


API_KEY = {"set": {"X-Api-Key": "k-123"}, "remove": ["Cookie"]}
SERVED_BY = {"set": {"X-Served-By": "magpie"}, "remove": ["Server"]}


# ---- toward the origin ----

def test_route_request_edits_reach_the_origin(magpie_factory, origin):
    m = magpie_factory(routes=[route(origin, request_headers=API_KEY)])
    r = fetch(m.port, "GET", "/echo", host=HOST,
              headers=[("Cookie", "session=1"), ("X-Keep", "yes"), ("cookie", "b=2")])
    got = echoed(r)
    assert values(got, "x-api-key") == ["k-123"]
    assert values(got, "cookie") == [], "every Cookie line is removed"
    assert values(got, "x-keep") == ["yes"], "other fields pass"


def test_removing_x_forwarded_for_drops_what_clients_claim(magpie_factory, origin):
    """A route appends the client's address to X-Forwarded-For; removing the
    field first leaves only that address, whatever the client sent."""
    plain = magpie_factory(routes=[route(origin)])
    got = echoed(fetch(plain.port, "GET", "/echo", host=HOST,
                       headers=[("X-Forwarded-For", "6.6.6.6")]))
    assert values(got, "x-forwarded-for") == ["6.6.6.6, 127.0.0.1"]
    m = magpie_factory(routes=[route(origin, request_headers={"remove": ["X-Forwarded-For"]})])
    got = echoed(fetch(m.port, "GET", "/echo", host=HOST,
                       headers=[("X-Forwarded-For", "6.6.6.6")]))
    assert values(got, "x-forwarded-for") == ["127.0.0.1"]


def test_a_sent_value_of_a_set_name_is_replaced_not_added_to(magpie_factory, origin):
    m = magpie_factory(routes=[route(origin, request_headers=API_KEY)])
    r = fetch(m.port, "GET", "/echo", host=HOST,
              headers=[("X-Api-Key", "stolen"), ("x-api-key", "another")])
    assert values(echoed(r), "x-api-key") == ["k-123"]


def test_a_set_name_the_client_calls_hop_by_hop_still_reaches_the_origin(
        magpie_factory, origin):
    """Connection: X-Api-Key makes the client's X-Api-Key its own hop's;
    the route's is magpie's, so it is forwarded all the same, once."""
    m = magpie_factory(routes=[route(origin, request_headers=API_KEY)])
    r = fetch(m.port, "GET", "/echo", host=HOST,
              headers=[("Connection", "X-Api-Key, Cookie"), ("X-Api-Key", "stolen"),
                       ("Cookie", "a=1")])
    got = echoed(r)
    assert values(got, "x-api-key") == ["k-123"]
    assert values(got, "cookie") == []


def test_a_large_set_value_leaves_the_target_intact(magpie_factory, origin):
    """The edits grow the request's arena; the target taken from it before
    still names what the client asked for."""
    big = "v" * 6000
    m = magpie_factory(routes=[route(origin, request_headers={"set": {"X-Big": big}})])
    r = fetch(m.port, "GET", "/echo?q=1&r=2", host=HOST)
    got = echoed(r)
    assert values(got, "x-big") == [big]
    assert values(got, "host") == [HOST]
    assert json.loads(r.body)["target"] == "/echo?q=1&r=2"


def test_forward_mode_cache_rule_edits_both_ways(magpie_factory, origin):
    rules = [{"match": "/headers",
              "request_headers": {"set": {"X-Env": "prod"}, "remove": ["Cookie"]},
              "response_headers": {"set": {"X-Rule": "hit"}, "remove": ["X-Powered-By"]}}]
    m = magpie_factory(cache={"rules": rules})
    url = origin.url("/headers?%s&X-Powered-By=php&X-Other=o" % CC60)
    first = None
    for i in range(3):  # a miss, a hit from the file, a hit from memory
        r = fetch(m.port, "GET", url, headers=[("Cookie", "c=%d" % i)])
        assert r.status == 200, r
        assert r.header_all("x-rule") == ["hit"], (i, r)
        assert r.header("x-powered-by") is None, (i, r)
        assert r.header("x-other") == "o", (i, r)
        if first is None:
            first = r
            assert sent(origin, "x-env") == ["prod"] and sent(origin, "cookie") == []
            quiescent(cache_dir(m))
        else:
            assert r.header("x-cache") == "HIT" and number(r) == number(first), (i, r)
    # a URL the rule does not match: nothing changed either way
    r = fetch(m.port, "GET", origin.url("/echo"), headers=[("Cookie", "c=1")])
    assert values(echoed(r), "cookie") == ["c=1"] and values(echoed(r), "x-env") == []
    assert r.header("x-rule") is None


def test_route_then_rule_the_rule_decides_a_name_both_name(magpie_factory, origin):
    rt = route(origin,
               request_headers={"set": {"X-Who": "route", "X-Route": "r", "X-Gone": "r"},
                                "remove": ["X-Tag"]},
               response_headers={"set": {"X-Who": "route", "X-Route": "r", "X-Gone": "r"},
                                 "remove": ["X-Tag"]})
    edits = {"set": {"X-Who": "rule", "X-Tag": "rule"}, "remove": ["X-Gone"]}
    rules = [{"match": r"^http://api\.local/", "request_headers": edits,
              "response_headers": edits}]
    m = magpie_factory(routes=[rt], cache={"rules": rules})
    r = fetch(m.port, "GET", "/echo", host=HOST,
              headers=[("X-Who", "client"), ("X-Tag", "client"), ("X-Gone", "client")])
    got = echoed(r)
    assert values(got, "x-who") == ["rule"], "the rule's set wins over the route's"
    assert values(got, "x-route") == ["r"], "the route's own still applies"
    assert values(got, "x-tag") == ["rule"], "a rule sets what the route removed"
    assert values(got, "x-gone") == [], "a rule removes what the route set"
    assert r.header_all("x-who") == ["rule"]
    assert r.header_all("x-route") == ["r"]
    assert r.header_all("x-tag") == ["rule"]
    assert r.header_all("x-gone") == []


# ---- toward the client ----

def cached_route(origin, **more):
    return route(origin, cache={"default_ttl": "60s"}, **more)


def test_response_edits_on_a_miss_and_on_hits_and_the_store_keeps_the_origins(
        magpie_factory, origin):
    m = magpie_factory(routes=[cached_route(origin, response_headers=SERVED_BY)])
    path = "/headers?Server=origin-srv&X-Powered-By=php&ETag=%22v1%22"
    first = None
    for i in range(4):  # a miss, a hit from the file, then hits from memory
        r = fetch(m.port, "GET", path, host=HOST)
        assert r.status == 200, r
        assert r.header("server") is None, (i, r)
        assert r.header_all("x-served-by") == ["magpie"], (i, r)
        assert r.header("x-powered-by") == "php", (i, r)
        if first is None:
            first = r
            assert r.header("x-cache") == "MISS"
            quiescent(cache_dir(m))
        else:
            assert r.header("x-cache") == "HIT" and number(r) == number(first), (i, r)
    # a conditional hit answers 304 with the edits too
    r = fetch(m.port, "GET", path, host=HOST, headers=[("If-None-Match", '"v1"')])
    assert r.status == 304 and r.header("server") is None
    assert r.header("x-served-by") == "magpie"
    stored = file_for(cache_dir(m), "Server=origin-srv&X-Powered-By=php").read_bytes()
    assert b"Server: origin-srv\r\n" in stored and b"X-Served-By" not in stored
    # without the rule, the next hit is the stored head as the origin sent it
    m.write_config({"routes": [cached_route(origin)]})
    m.signal(signal.SIGHUP)
    m.wait_error_log(r"configuration reloaded")
    r = fetch(m.port, "GET", path, host=HOST)
    assert r.header("x-cache") == "HIT" and number(r) == number(first)
    assert r.header("server") == "origin-srv"
    assert r.header("x-served-by") is None


def test_names_are_case_insensitive(magpie_factory, origin):
    rt = route(origin, request_headers={"set": {"x-api-key": "k"}, "remove": ["cookie"]},
               response_headers={"set": {"x-served-by": "magpie"}, "remove": ["server"]})
    m = magpie_factory(routes=[rt])
    r = fetch(m.port, "GET", "/echo", host=HOST,
              headers=[("COOKIE", "a=1"), ("X-API-KEY", "mine")])
    got = echoed(r)
    assert values(got, "cookie") == [] and values(got, "x-api-key") == ["k"]
    r = fetch(m.port, "GET", "/headers?Server=o&X-Served-By=origin", host=HOST)
    assert r.status == 200 and r.header("server") is None
    assert r.header_all("x-served-by") == ["magpie"]


def test_magpies_own_answers_get_no_edits(magpie_factory, origin, closed_port):
    down = {"host": "down.local", "origin": "http://127.0.0.1:%d" % closed_port,
            "response_headers": SERVED_BY}
    redirects = [{"match": r"^http://api\.local/old$", "to": "http://api.local/new",
                  "status": 301}]
    m = magpie_factory(routes=[route(origin, response_headers=SERVED_BY), down],
                       redirects=redirects, upstream={"retries": 0})
    r = fetch(m.port, "GET", "/bytes/5", host=HOST)
    assert r.status == 200 and r.header("x-served-by") == "magpie", "the route's edits apply"
    r = fetch(m.port, "GET", "/old", host=HOST)
    assert r.status == 301 and r.header("x-served-by") is None
    r = fetch(m.port, "GET", "/bytes/5", host="down.local")
    assert r.status == 502 and is_error_body(r), r
    assert r.header("x-served-by") is None


def test_interim_responses_get_no_edits(magpie_factory, script):
    """A 103 goes as the origin sent it; the final head has the edits."""
    def h(req, n):
        return (b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\nServer: early\r\n\r\n" +
                response(200, [("Server", "final")], b"final\n", n))
    o = script(h)
    m = magpie_factory(cache={"rules": [{"match": "/hints", "response_headers": SERVED_BY}]})
    with m.conn() as c:
        c.send(rawhttp.build_request("GET", o.url("/hints")))
        assert c.wait_for(b"final\n", timeout=5)
        raw = c.buf
    interim, _, final = raw.partition(b"\r\n\r\n")
    assert interim.startswith(b"HTTP/1.1 103") and b"Server: early" in interim
    assert b"X-Served-By" not in interim
    assert final.startswith(b"HTTP/1.1 200") and b"X-Served-By: magpie\r\n" in final
    assert b"Server:" not in final


# ---- Vary on what is forwarded ----

def test_vary_on_a_field_the_route_sets_shares_one_entry(magpie_factory, origin):
    m = magpie_factory(routes=[cached_route(origin, request_headers=API_KEY)])
    path = "/headers?Vary=X-Api-Key&%s" % CC60
    a = fetch(m.port, "GET", path, host=HOST, headers=[("X-Api-Key", "alice")])
    assert a.status == 200 and a.header("x-cache") == "MISS"
    quiescent(cache_dir(m))
    b = fetch(m.port, "GET", path, host=HOST, headers=[("X-Api-Key", "bob")])
    assert b.header("x-cache") == "HIT" and number(b) == number(a), \
        "both were forwarded with the route's key: one variant"
    assert origin.request_count() == 1 and sent(origin, "x-api-key") == ["k-123"]


def test_vary_cookie_with_a_rule_removing_cookie(magpie_factory, origin):
    rules = [{"match": "strip=1", "request_headers": {"remove": ["Cookie"]}}]
    m = magpie_factory(cache={"rules": rules})

    def two_cookies(query):
        url = origin.url("/headers?%s&Vary=Cookie&%s" % (query, CC60))
        a = fetch(m.port, "GET", url, headers=[("Cookie", "u=1")])
        assert a.status == 200 and a.header("x-cache") == "MISS", a
        quiescent(cache_dir(m))
        return a, fetch(m.port, "GET", url, headers=[("Cookie", "u=2")])

    a, b = two_cookies("strip=1")
    assert b.header("x-cache") == "HIT" and number(b) == number(a)
    # without the rule, each cookie is its own variant
    a, b = two_cookies("strip=0")
    assert b.header("x-cache") == "MISS" and number(b) != number(a)
