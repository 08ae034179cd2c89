"""Following redirects for the client (issue 12, item 3): a cache rule's
follow_redirects makes magpie ask each Location itself, GET and HEAD only,
and store the final response under the URL the client asked as well as
its own; loops and too many hops answer 502, a hop outside the scope goes
to the client, credentials never reach another origin."""

import json
import urllib.parse

import pytest

import rawhttp
from dnsserver import DNSServer
from origin import Origin


def rule(match, **keys):
    keys.setdefault("follow_redirects", {"max": 5})
    return dict(match=match, **keys)


def following(magpie_factory, *rules, **more):
    return magpie_factory(cache={"rules": list(rules)}, **more)


def followed_field(line):
    """The access log's last field: "-" or "N:URL"."""
    return line.split()[-1]


def paths(origin, since):
    return [r.target for r in origin.requests[since:]]


@pytest.fixture
def other():
    o = Origin("127.0.0.1")
    yield o
    o.stop()


# -- the chain -------------------------------------------------------------


def test_the_client_gets_the_final_response(magpie_factory, origin):
    m = following(magpie_factory, rule("/hop/"))
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/hop/3"))
    assert r.status == 200 and r.body == b"final\n", r
    assert paths(origin, before) == ["/hop/3", "/hop/2", "/hop/1", "/hop/0"]
    # the final answer has no freshness and no validators: not stored, and it says both
    assert r.header("cache-status") == 'magpie; fwd=uri-miss; detail="followed-3 no-freshness"'
    line = m.wait_access_line(lambda l: "/hop/3 " in l)
    assert followed_field(line) == "3:" + origin.url("/hop/0"), line
    assert line.split()[4] == "200"


def test_without_a_rule_redirects_go_to_the_client(magpie_factory, origin):
    m = following(magpie_factory, rule("/elsewhere/"))
    r = rawhttp.fetch(m.port, "GET", origin.url("/hop/2"))
    assert r.status == 302 and r.header("location") == "/hop/1"
    line = m.wait_access_line(lambda l: "/hop/2 " in l)
    assert followed_field(line) == "-", line


def test_follow_redirects_false_and_max_0_are_off(magpie_factory, origin):
    m = following(magpie_factory, rule("/hop/2", follow_redirects=False),
                  rule("/hop/1", follow_redirects={"max": 0}))
    assert rawhttp.fetch(m.port, "GET", origin.url("/hop/2")).status == 302
    assert rawhttp.fetch(m.port, "GET", origin.url("/hop/1")).status == 302


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_each_redirect_status_is_followed(magpie_factory, origin, status):
    m = following(magpie_factory, rule("/answer/"))
    loc = urllib.parse.quote("/echo?after=%d" % status, safe="")
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/%d?Location=%s" % (status, loc)))
    assert r.status == 200, r
    doc = json.loads(r.body)
    assert doc["method"] == "GET" and doc["target"] == "/echo?after=%d" % status


@pytest.mark.parametrize("status", [300, 305, 306])
def test_other_3xx_are_not_followed(magpie_factory, origin, status):
    m = following(magpie_factory, rule("/answer/"))
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/%d?Location=/echo" % status))
    assert r.status == status, r


@pytest.mark.parametrize("ref,want", [
    ("/echo?abs", "/echo?abs"),           # absolute path
    ("../echo?up", "/echo?up"),           # relative, dot segments (RFC 3986 5.2.4)
    ("./x/../../echo?dots", "/echo?dots"),
    ("echo2", "/answer/echo2"),           # relative to /answer/302
    ("?q=1", "/answer/302?q=1"),          # a query alone keeps the path
])
def test_relative_locations_resolve_against_the_url_asked(magpie_factory, origin, ref, want):
    m = following(magpie_factory, rule("/answer/", follow_redirects={"max": 1}))
    before = origin.request_count()
    rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                            % urllib.parse.quote(ref, safe="")))
    assert paths(origin, before)[1] == want, paths(origin, before)


def test_network_path_reference(magpie_factory, origin):
    m = following(magpie_factory, rule("/answer/"))
    ref = "//%s/echo?np" % origin.authority
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                                % urllib.parse.quote(ref, safe="")))
    assert r.status == 200 and json.loads(r.body)["target"] == "/echo?np"


def test_head_is_followed_and_has_no_body(magpie_factory, origin):
    m = following(magpie_factory, rule("/hop/"))
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "HEAD", origin.url("/hop/2"))
    assert r.status == 200 and r.body == b""
    assert [q.method for q in origin.requests[before:]] == ["HEAD"] * 3


def test_a_303_after_a_post_is_not_followed(magpie_factory, origin):
    m = following(magpie_factory, rule("/answer/"))
    r = rawhttp.fetch(m.port, "POST", origin.url("/answer/303?Location=/echo"), body=b"x=1")
    assert r.status == 303 and r.header("location") == "/echo"


def test_a_get_with_a_body_is_not_followed(magpie_factory, origin):
    """Its body went up with the first request and is not kept for a second."""
    m = following(magpie_factory, rule("/answer/"))
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=/echo"), body=b"q=1")
    assert r.status == 302 and origin.request_count() == before + 1


def test_the_redirects_connection_is_reused(magpie_factory, origin):
    """A short redirect body is read and dropped: the next hop reuses the connection."""
    m = following(magpie_factory, rule("/hop/"))
    before = origin.request_count()
    assert rawhttp.fetch(m.port, "GET", origin.url("/hop/3")).status == 200
    conns = {q.connection_number for q in origin.requests[before:]}
    assert len(conns) == 1, conns


# -- ends of a chain ---------------------------------------------------------


def test_a_loop_answers_502_naming_it(magpie_factory, origin):
    m = following(magpie_factory, rule("/loop/", follow_redirects={"max": 10}))
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/loop/a"))
    assert r.status == 502, r
    assert b"redirect loop" in r.body and origin.url("/loop/a").encode() in r.body, r.body
    assert paths(origin, before) == ["/loop/a", "/loop/b"], "stopped at the first repeat"


def test_too_many_redirects_answer_502(magpie_factory, origin):
    m = following(magpie_factory, rule("/hop/", follow_redirects={"max": 2}))
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/hop/5"))
    assert r.status == 502, r
    assert b"more than 2 redirects" in r.body and b"/hop/2" in r.body, r.body
    assert paths(origin, before) == ["/hop/5", "/hop/4", "/hop/3"]
    # exactly max is fine
    assert rawhttp.fetch(m.port, "GET", origin.url("/hop/2")).status == 200


def test_a_hop_that_cannot_be_reached_answers_502(magpie_factory, origin, closed_port):
    m = following(magpie_factory, rule("/answer/", follow_redirects={"scope": "any"}))
    loc = urllib.parse.quote("http://127.0.0.1:%d/x" % closed_port, safe="")
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s" % loc))
    assert r.status == 502, r
    assert b"127.0.0.1:%d" % closed_port in r.body, r.body


def test_a_location_that_is_no_http_url_goes_to_the_client(magpie_factory, origin):
    m = following(magpie_factory, rule("/answer/"))
    for loc in ("ftp://example.test/x", "mailto:a@example.test"):
        r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                                    % urllib.parse.quote(loc, safe="")))
        assert r.status == 302 and r.header("location") == loc, r


# -- scope and credentials -----------------------------------------------------


def test_same_origin_scope_passes_another_origin_on(magpie_factory, origin, other):
    m = following(magpie_factory, rule("/answer/"))
    loc = other.url("/echo")
    before = other.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                                % urllib.parse.quote(loc, safe="")))
    assert r.status == 302 and r.header("location") == loc
    assert other.request_count() == before, "another port is another origin"


def test_credentials_never_reach_another_origin(magpie_factory, origin, other):
    m = following(magpie_factory, rule("/answer/", follow_redirects={"scope": "any"}))
    loc = other.url("/echo")
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                                % urllib.parse.quote(loc, safe="")),
                      headers=[("Authorization", "Bearer secret"), ("Cookie", "sid=1"),
                               ("X-Other", "kept")])
    assert r.status == 200, r
    seen = {k.lower(): v for k, v in json.loads(r.body)["headers"]}
    assert "authorization" not in seen and "cookie" not in seen, seen
    assert seen.get("x-other") == "kept"
    first = {k.lower(): v for k, v in origin.requests[before].headers}
    assert first.get("authorization") == "Bearer secret" and first.get("cookie") == "sid=1"


def test_credentials_go_to_the_same_origin(magpie_factory, origin):
    m = following(magpie_factory, rule("/answer/"))
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=/echo"),
                      headers=[("Authorization", "Bearer secret"), ("Cookie", "sid=1")])
    seen = {k.lower(): v for k, v in json.loads(r.body)["headers"]}
    assert seen.get("authorization") == "Bearer secret" and seen.get("cookie") == "sid=1"


@pytest.fixture
def site_dns():
    d = DNSServer({"a.example.test": "127.0.0.1", "b.example.test": "127.0.0.1",
                   "elsewhere.test": "127.0.0.1"}, ttl=300)
    yield d
    d.stop()


def test_same_site_scope(magpie_factory, origin, site_dns):
    m = following(magpie_factory, rule("/answer/", follow_redirects={"scope": "same-site"}),
                  dns={"servers": [site_dns.address]})
    start = "http://a.example.test:%d/answer/302?Location=" % origin.port
    near = "http://b.example.test:%d/echo?near" % origin.port
    far = "http://elsewhere.test:%d/echo?far" % origin.port
    r = rawhttp.fetch(m.port, "GET", start + urllib.parse.quote(near, safe=""))
    assert r.status == 200 and json.loads(r.body)["target"] == "/echo?near", r
    r = rawhttp.fetch(m.port, "GET", start + urllib.parse.quote(far, safe=""))
    assert r.status == 302 and r.header("location") == far, r


def test_a_redirect_to_a_refused_destination_is_not_followed_there(magpie_factory, origin):
    """A reverse route's origin is trusted; where its redirects point is not."""
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"follow_redirects": {"scope": "any"}}}])
    loc = urllib.parse.quote("http://169.254.169.254/latest/meta-data/", safe="")
    r = rawhttp.fetch(m.port, "GET", "/answer/302?Location=%s" % loc, host="api.local")
    assert r.status in (403, 502) and r.status != 200, r
    assert b"169.254.169.254" in r.body, r.body


# -- caching the final response --------------------------------------------------


def test_a_signed_url_download_is_fetched_once(magpie_factory, origin):
    """Each redirect points at a new signed URL, and neither the redirect nor
    the object says anything about freshness: the rule's default_ttl does,
    and the object is stored under the URL the client asked."""
    m = following(magpie_factory, rule("/sign/", default_ttl="1h"))
    before = origin.request_count()
    first = rawhttp.fetch(m.port, "GET", origin.url("/sign/tool.tar.gz"))
    assert first.status == 200 and first.body.startswith(b"blob tool.tar.gz"), first
    assert len(paths(origin, before)) == 2
    for _ in range(3):
        again = rawhttp.fetch(m.port, "GET", origin.url("/sign/tool.tar.gz"))
        assert again.status == 200 and again.body == first.body
        assert again.header("cache-status").startswith("magpie; hit"), again.header("cache-status")
    assert len(paths(origin, before)) == 2, "no origin request at all after the first"


def test_the_final_response_is_stored_under_its_own_url_too(magpie_factory, origin):
    m = following(magpie_factory, rule("/answer/"))
    final = "/headers?Cache-Control=%s" % urllib.parse.quote("max-age=60", safe="")
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/301?Location=%s"
                                                % urllib.parse.quote(final, safe="")))
    assert r.status == 200 and r.body == b"headers\n"
    before = origin.request_count()
    direct = rawhttp.fetch(m.port, "GET", origin.url(final))
    assert direct.status == 200 and direct.body == r.body
    assert direct.header("cache-status").startswith("magpie; hit"), direct.header("cache-status")
    assert origin.request_count() == before


def test_a_final_url_whose_rule_disables_the_cache_is_not_stored_there(magpie_factory, origin):
    m = following(magpie_factory, {"match": "/headers", "enabled": False}, rule("/answer/"))
    final = "/headers?Cache-Control=%s" % urllib.parse.quote("max-age=60", safe="")
    rawhttp.fetch(m.port, "GET", origin.url("/answer/301?Location=%s"
                                            % urllib.parse.quote(final, safe="")))
    before = origin.request_count()
    direct = rawhttp.fetch(m.port, "GET", origin.url(final))
    assert direct.status == 200 and origin.request_count() == before + 1


def test_an_uncacheable_final_response_is_not_stored(magpie_factory, origin):
    m = following(magpie_factory, rule("/answer/"))
    final = "/headers?Cache-Control=no-store"
    url = origin.url("/answer/302?Location=%s" % urllib.parse.quote(final, safe=""))
    rawhttp.fetch(m.port, "GET", url)
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", url)
    assert r.status == 200 and origin.request_count() == before + 2


def test_reverse_route_follows_through_the_route(magpie_factory, origin):
    """A Location naming the route's origin, or its public host, goes through
    the route again (the Host the client asked); the result is cached."""
    m = magpie_factory(routes=[{"host": "api.local", "origin": origin.url(""),
                                "cache": {"default_ttl": "1h", "follow_redirects": True}}])
    before = origin.request_count()
    r = rawhttp.fetch(m.port, "GET", "/sign/a.bin", host="api.local")
    assert r.status == 200 and r.body.startswith(b"blob a.bin"), r
    hop = origin.requests[before + 1]
    assert hop.target.startswith("/signed/a.bin?sig=")
    assert dict((k.lower(), v) for k, v in hop.headers)["host"] == "api.local"
    loc = urllib.parse.quote(origin.url("/echo?own-name"), safe="")
    r = rawhttp.fetch(m.port, "GET", "/answer/302?Location=%s" % loc, host="api.local")
    assert r.status == 200 and json.loads(r.body)["target"] == "/echo?own-name"
    assert rawhttp.fetch(m.port, "GET", "/sign/a.bin", host="api.local") \
        .header("cache-status").startswith("magpie; hit")
    assert origin.request_count() == before + 4


def test_a_location_magpie_cannot_put_in_a_request_line_goes_to_the_client(magpie_factory,
                                                                            origin):
    m = following(magpie_factory, rule("/answer/"), rule("/long/"))
    before = origin.request_count()
    for loc in ("/echo with space", "/caf\u00e9"):
        r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                                    % urllib.parse.quote(loc, safe="")))
        assert r.status == 302, (loc, r)
    # longer than limits.max_uri_bytes (8KiB here): no request magpie would take
    r = rawhttp.fetch(m.port, "GET", origin.url("/long/9000"))
    assert r.status == 302 and len(r.header("location")) == 9001
    assert rawhttp.fetch(m.port, "GET", origin.url("/long/100")).status == 404, "followed"
    assert origin.request_count() == before + 5, "none of the first three was asked"


def test_concurrent_requests_for_a_followed_url_fetch_once(magpie_factory, origin):
    """Requests arriving while the first follows its redirects wait for its
    fetch (collapsed forwarding on the URL they asked); later ones are hits."""
    import threading
    m = following(magpie_factory, rule("/sign/", default_ttl="1h"))
    before = origin.request_count()
    results = []

    def get():
        results.append(rawhttp.fetch(m.port, "GET", origin.url("/sign/shared.iso")))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8
    assert all(r.status == 200 and r.body == results[0].body for r in results), \
        [r.status for r in results]
    assert results[0].body.startswith(b"blob shared.iso")
    assert len(paths(origin, before)) == 2, paths(origin, before)


def test_a_redirect_acl_rules_deny_goes_to_the_client(magpie_factory, origin, other):
    """Following is no way around acl.rules: a hop the client could not ask
    for itself is not asked on its behalf either."""
    m = magpie_factory(cache={"rules": [rule("/answer/", follow_redirects={"scope": "any"})]},
                       acl={"allow": ["127.0.0.0/8", "::1/128"],
                            "rules": [{"deny": ["0.0.0.0/0"], "ports": [other.port]}]})
    loc = other.url("/echo")
    before = other.request_count()
    r = rawhttp.fetch(m.port, "GET", origin.url("/answer/302?Location=%s"
                                                % urllib.parse.quote(loc, safe="")))
    assert r.status == 302 and r.header("location") == loc, r
    assert other.request_count() == before, "the denied destination was not asked"
    assert rawhttp.fetch(m.port, "GET", loc).status == 403, "as the client itself would be"
