"""Cache-Status explains (RFC 9211): why a request went to the origin
(fwd=uri-miss, vary-miss, stale, request, bypass), how much freshness a hit
has left (ttl=, which with Age adds up to the lifetime), and why a response
was not stored (detail=)."""

import urllib.parse

import pytest

import rawhttp
from rawhttp import fetch
from test_cache_validation import vorigin  # noqa: F401 (a fixture)


def q(**fields):
    return "&".join("%s=%s" % (k.replace("_", "-"), urllib.parse.quote(v, safe=""))
                    for k, v in fields.items())


def status(r):
    return r.header("cache-status")


def test_a_first_request_is_a_uri_miss_and_a_hit_says_its_ttl(magpie, origin):
    url = origin.url("/headers?" + q(Cache_Control="max-age=100"))
    assert status(fetch(magpie.port, "GET", url)) == "magpie; fwd=uri-miss; stored"
    hit = fetch(magpie.port, "GET", url)
    left = 100 - int(hit.header("age"))  # rounded down: the Age sent is rounded
    assert status(hit) in ("magpie; hit; ttl=%d" % left, "magpie; hit; ttl=%d" % (left - 1))


def test_another_variant_is_a_vary_miss(magpie, origin):
    url = origin.url("/headers?" + q(Cache_Control="max-age=100", Vary="X-Lang"))
    assert status(fetch(magpie.port, "GET", url, headers=[("X-Lang", "en")])) \
        == "magpie; fwd=uri-miss; stored"
    assert status(fetch(magpie.port, "GET", url, headers=[("X-Lang", "fr")])) \
        == "magpie; fwd=vary-miss; stored"
    assert status(fetch(magpie.port, "GET", url, headers=[("X-Lang", "en")])) \
        .startswith("magpie; hit; ttl=")


def test_a_fresh_response_the_request_refuses_is_fwd_request(magpie, origin):
    url = origin.url("/headers?" + q(Cache_Control="max-age=100"))
    fetch(magpie.port, "GET", url)
    r = fetch(magpie.port, "GET", url, headers=[("Cache-Control", "no-cache")])
    assert status(r) == "magpie; fwd=request; stored", status(r)
    r = fetch(magpie.port, "GET", url, headers=[("Cache-Control", "max-age=0")])
    assert status(r) == "magpie; fwd=request; stored", status(r)


def test_a_stale_response_is_fwd_stale(magpie, origin):
    """Age 200 against max-age=100: stored stale, fetched again."""
    url = origin.url("/headers?" + q(Cache_Control="max-age=100", Age="200"))
    fetch(magpie.port, "GET", url)
    r = fetch(magpie.port, "GET", url)
    assert status(r) == "magpie; fwd=stale; stored", status(r)


def test_a_request_for_a_fresh_response_with_validators_goes_up(magpie, origin):
    url = origin.url("/headers?" + q(Cache_Control="max-age=100", ETag='"v1"'))
    fetch(magpie.port, "GET", url)
    r = fetch(magpie.port, "GET", url, headers=[("Cache-Control", "no-cache")])
    # the origin's /headers answers 200 again (it never sends 304): fetched in full
    assert status(r) == "magpie; fwd=request; stored", status(r)


@pytest.mark.parametrize("method,body,headers,detail", [
    ("POST", b"x=1", [], "method"),
    ("GET", b"q=1", [], "request-body"),
    ("GET", None, [("Cache-Control", "no-store")], "no-store"),
])
def test_a_bypass_says_why(magpie, origin, method, body, headers, detail):
    r = fetch(magpie.port, method, origin.url("/headers?" + q(Cache_Control="max-age=100")),
              body=body, headers=headers)
    assert status(r) == "magpie; fwd=bypass; detail=" + detail, status(r)


def test_a_disabled_rule_is_a_bypass_that_says_so(magpie_factory, origin):
    m = magpie_factory(cache={"rules": [{"match": "/headers", "enabled": False}]})
    r = fetch(m.port, "GET", origin.url("/headers?" + q(Cache_Control="max-age=100")))
    assert status(r) == "magpie; fwd=bypass; detail=rule-disabled"


@pytest.mark.parametrize("fields,headers,detail", [
    ({"Cache_Control": "no-store"}, [], "no-store"),
    ({"Cache_Control": "private, max-age=100"}, [], "private"),
    ({"Cache_Control": "max-age=100"}, [("Authorization", "Bearer t")], "authorization"),
    ({"Cache_Control": "max-age=100", "Vary": "*"}, [], "vary-star"),
    # fresh by heuristic only: cache.set_cookie explicit keeps the cookie out of the store
    ({"Set_Cookie": "s=1", "Last_Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}, [], "set-cookie"),
    ({"Cache_Control": "max-age=100", "Vary": "Via"}, [], "vary"),
])
def test_a_response_not_stored_says_why(magpie, origin, fields, headers, detail):
    r = fetch(magpie.port, "GET", origin.url("/headers?" + q(**fields)), headers=headers)
    assert status(r) == "magpie; fwd=uri-miss; detail=" + detail, status(r)


def test_no_freshness_and_no_validators(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/plain/nothing"))
    assert status(r) == "magpie; fwd=uri-miss; detail=no-freshness", status(r)


def test_too_large(magpie_factory, origin):
    """/bytes has no freshness of its own: a rule gives it some."""
    m = magpie_factory(cache={"max_object_size": "1KiB",
                              "rules": [{"match": "/bytes/", "default_ttl": "1h"}]})
    r = fetch(m.port, "GET", origin.url("/bytes/5000"))
    assert status(r) == "magpie; fwd=uri-miss; detail=too-large", status(r)
    r = fetch(m.port, "GET", origin.url("/bytes/500"))
    assert status(r) == "magpie; fwd=uri-miss; stored", status(r)


def test_a_no_cache_request_confirmed_by_a_304_is_fwd_request(magpie, vorigin):  # noqa: F811
    o = vorigin("max-age=100")
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    r = fetch(magpie.port, "GET", url, headers=[("Cache-Control", "no-cache")])
    assert r.header("x-cache") == "REVALIDATED"
    left = 100 - int(r.header("age"))
    assert status(r) in ("magpie; fwd=request; fwd-status=304; ttl=%d" % n
                         for n in (left, left - 1)), status(r)


def test_only_if_cached_504_says_it_was_not_forwarded(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/headers?nothing"),
              headers=[("Cache-Control", "only-if-cached")])
    assert r.status == 504
    assert status(r) == "magpie; detail=only-if-cached" and r.header("x-cache") == "MISS"


def test_an_unreachable_origin_502_says_the_request_went_up(magpie, closed_port):
    r = fetch(magpie.port, "GET", "http://127.0.0.1:%d/x" % closed_port)
    assert r.status == 502
    assert status(r) == "magpie; fwd=uri-miss" and r.header("x-cache") == "MISS"


def test_answers_that_never_reach_the_cache_have_no_cache_status(magpie_factory, origin):
    m = magpie_factory(acl={"allow": ["10.0.0.0/8"]})
    r = fetch(m.port, "GET", origin.url("/headers"))
    assert r.status == 403 and status(r) is None
