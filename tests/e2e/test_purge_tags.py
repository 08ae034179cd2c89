"""PURGE by cache tag: the Surrogate-Key (space-separated) and Cache-Tag
(comma-separated) values of stored responses are indexed, and a PURGE
naming tags in either field removes every object carrying any of them,
whatever its URL; the fields stay out of responses to clients unless
cache.tag_headers is keep; tags survive a restart (they are read again
from the stored heads); an origin cannot make them unbounded."""

import urllib.parse

from rawhttp import Conn, fetch

CC = "public, max-age=600"


def tagged(origin, path, **fields):
    fields.setdefault("Cache-Control", CC)
    fields["X-Object"] = path  # a URL of its own
    return origin.url("/headers?" + urllib.parse.urlencode(fields))


def x_cache(m, url):
    return fetch(m.port, "GET", url).header("x-cache")


def purge_tags(m, field, value, target="http://purge.invalid/"):
    return fetch(m.port, "PURGE", target, headers=[(field, value)])


def test_purge_by_surrogate_key_removes_exactly_the_tagged(magpie, origin):
    a = tagged(origin, "a", **{"Surrogate-Key": "product-1 list"})
    b = tagged(origin, "b", **{"Surrogate-Key": "product-2  list"})
    c = tagged(origin, "c", **{"Surrogate-Key": "product-10"})  # product-1 is a prefix of it
    d = tagged(origin, "d")
    for u in (a, b, c, d):
        assert x_cache(magpie, u) == "MISS"
        assert x_cache(magpie, u) == "HIT"
    r = purge_tags(magpie, "Surrogate-Key", "product-1")
    assert r.status == 200 and r.body.startswith(b"magpie: purged 1 stored response"), r.body
    assert [x_cache(magpie, u) for u in (a, b, c, d)] == ["MISS", "HIT", "HIT", "HIT"]
    # two tags, one shared by two objects (a was stored again with its tags)
    r = purge_tags(magpie, "Surrogate-Key", "list product-10")
    assert r.status == 200 and b"purged 3 stored responses" in r.body, r.body
    assert [x_cache(magpie, u) for u in (a, b, c, d)] == ["MISS", "MISS", "MISS", "HIT"]
    # a tag no object carries
    assert purge_tags(magpie, "Surrogate-Key", "nothing").status == 404


def test_purge_by_cache_tag_and_case_sensitive_tags(magpie, origin):
    a = tagged(origin, "ct-a", **{"Cache-Tag": "Blog, post-7"})
    b = tagged(origin, "ct-b", **{"Cache-Tag": "blog"})
    for u in (a, b):
        x_cache(magpie, u)
    assert purge_tags(magpie, "Cache-Tag", "Blog").status == 200
    assert [x_cache(magpie, u) for u in (a, b)] == ["MISS", "HIT"]
    # either request field names tags of either response field
    assert purge_tags(magpie, "Surrogate-Key", "blog").status == 200
    assert x_cache(magpie, b) == "MISS"


def test_tag_fields_are_stripped_toward_clients(magpie, origin):
    u = tagged(origin, "strip", **{"Surrogate-Key": "k1", "Cache-Tag": "k2"})
    for want in ("MISS", "HIT"):
        r = fetch(magpie.port, "GET", u)
        assert r.header("x-cache") == want
        assert r.header("Surrogate-Key") is None and r.header("Cache-Tag") is None, r.headers
    # stripped, yet indexed
    assert purge_tags(magpie, "Cache-Tag", "k2").status == 200


def test_tag_headers_keep(magpie_factory, origin):
    m = magpie_factory(cache={"tag_headers": "keep"})
    u = tagged(origin, "keep", **{"Surrogate-Key": "k1 k3", "Cache-Tag": "k2"})
    for want in ("MISS", "HIT"):
        r = fetch(m.port, "GET", u)
        assert r.header("x-cache") == want
        assert r.header("Surrogate-Key") == "k1 k3" and r.header("Cache-Tag") == "k2"


def test_tags_survive_a_restart(magpie_factory, origin):
    m = magpie_factory()
    a = tagged(origin, "r-a", **{"Surrogate-Key": "keep-me"})
    b = tagged(origin, "r-b", **{"Surrogate-Key": "drop-me"})
    for u in (a, b):
        x_cache(m, u)
    m.stop()
    m.start()
    assert m.wait_error_log(r"indexed 2 objects")
    assert purge_tags(m, "Surrogate-Key", "drop-me").status == 200
    assert [x_cache(m, u) for u in (a, b)] == ["HIT", "MISS"]


def test_purge_by_tag_from_outside_purge_allow_is_403(magpie_factory, origin):
    m = magpie_factory(admin={"purge_allow": ["10.0.0.0/8"]})
    u = tagged(origin, "acl", **{"Surrogate-Key": "t"})
    x_cache(m, u)
    assert purge_tags(m, "Surrogate-Key", "t").status == 403
    assert x_cache(m, u) == "HIT"


def test_purge_naming_no_valid_tag_is_400(magpie, origin):
    u = tagged(origin, "bad", **{"Surrogate-Key": "t"})
    x_cache(magpie, u)
    r = purge_tags(magpie, "Surrogate-Key", "   ")
    assert r.status == 400, r.status
    assert x_cache(magpie, u) == "HIT"


def test_a_hostile_origin_cannot_make_tags_unbounded(magpie, origin):
    """500 tags and an overlong one: the object keeps its
    first 64 distinct valid tags, the rest are ignored, and it is stored."""
    many = " ".join("t%d" % i for i in range(500))
    u = tagged(origin, "many", **{"Surrogate-Key": "x" * 300 + " " + many})
    assert x_cache(magpie, u) == "MISS"
    assert x_cache(magpie, u) == "HIT"
    assert purge_tags(magpie, "Surrogate-Key", "t64").status == 404  # the 65th: not kept
    assert purge_tags(magpie, "Surrogate-Key", "x" * 300).status == 400  # no tag at all
    assert x_cache(magpie, u) == "HIT"
    assert purge_tags(magpie, "Surrogate-Key", "t63").status == 200
    assert x_cache(magpie, u) == "MISS"


def test_purge_by_tag_keeps_the_connection(magpie, origin):
    u = tagged(origin, "conn", **{"Surrogate-Key": "c"})
    with Conn(magpie.port) as c:
        assert c.request("GET", u).header("x-cache") == "MISS"
        r = c.request("PURGE", "http://purge.invalid/", headers=[("Surrogate-Key", "c")])
        assert r.status == 200 and r.header("connection") == "keep-alive"
        assert c.request("GET", u).header("x-cache") == "MISS"
