"""test_attacks.py - a hostile client and a hostile origin against the cache
key, the Set-Cookie policy, the destination checks and the life cycle of a
fetch that outlives its client. Each test is an attack that once worked or
that guards a plausible way in; the docstring says which."""

import socket
import time

import pytest

from conftest import poll
from rawhttp import build_request, fetch, Conn
from test_cache_keys import ScriptOrigin, response, script, number  # noqa: F401 (fixture)


class SourceConn(Conn):
    """A client connection from the loopback source address src."""

    def __init__(self, src, port, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((src, 0))
        self.sock.connect(("127.0.0.1", port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False


def fetch_from(src, port, method, target, **kw):
    with SourceConn(src, port) as c:
        return c.request(method, target, **kw)


# ---- the key: what the origin saw ----

def test_vary_on_x_forwarded_for_is_never_shared(magpie_factory, script):
    """Reverse routes append the client's address to X-Forwarded-For: a
    response that varies on it was made for that address, and a client at
    another address (with the same X-Forwarded-For of its own, or none)
    must not get it."""
    def h(req, n):
        xff = [v for k, v in req[1] if k.lower() == "x-forwarded-for"]
        return response(200, [("Cache-Control", "public, max-age=60"),
                              ("Vary", "X-Forwarded-For")], ("for %s\n" % xff).encode(), n)
    o = script(h)
    m = magpie_factory(routes=[{"host": "rev.test", "origin": o.url("")}])
    for hdrs in ({}, {"X-Forwarded-For": "10.0.0.1"}):
        a = fetch_from("127.0.0.1", m.port, "GET", "/geo", host="rev.test", headers=list(hdrs.items()))
        assert b"127.0.0.1" in a.body
        b = fetch_from("127.0.0.2", m.port, "GET", "/geo", host="rev.test", headers=list(hdrs.items()))
        assert b"127.0.0.2" in b.body, "made for 127.0.0.1, served to 127.0.0.2: %r" % b.body


def test_set_cookie_fresh_for_no_time_is_not_shared(magpie, script):
    """max-age=0 (or an Expires already past) with Set-Cookie and a
    validator: every reuse is a revalidation, and the origin's 304 for the
    next client does not mean "give them the first client's session"."""
    def h(req, n):
        if any(k.lower() == "if-none-match" for k, _ in req[1]):
            return response(304, [("ETag", '"v1"'), ("Cache-Control", "max-age=0")], b"", n)
        return response(200, [("ETag", '"v1"'), ("Cache-Control", "max-age=0"),
                              ("Set-Cookie", "session=user%d" % n)], b"page\n", n)
    o = script(h)
    url = o.url("/page")
    alice = fetch(magpie.port, "GET", url)
    assert alice.header("set-cookie") == "session=user1"
    bob = fetch(magpie.port, "GET", url)
    assert bob.header("set-cookie") != "session=user1", "Bob got Alice's session"


# ---- invalidation while a fetch is in flight ----

def slow_doc_origin(script):
    """GET /doc: a cacheable body sent in pieces 0.2 s apart (numbered);
    any other method: 204."""
    def h(req, n):
        if not req[0].startswith("GET"):
            return response(204, [], b"", n)
        body = b"version %d " % n + b"x" * 40
        head = response(200, [("Cache-Control", "public, max-age=60")], body, n)
        cut = len(head) - len(body)
        return [head[:cut + 5]] + [head[cut + 5 + i:cut + 5 + i + 10] for i in range(0, len(body) - 5, 10)]
    return script(h)


@pytest.mark.parametrize("method", ["POST", "PURGE"])
def test_invalidation_during_a_fetch_is_not_undone_by_its_commit(magpie, script, method):
    """A POST (or PURGE) of a URL while a GET of it streams from the origin:
    the GET's response may predate the change, so its commit must not put
    back what the invalidation removed."""
    o = slow_doc_origin(script)
    url = o.url("/doc")
    with magpie.conn() as c, magpie.conn() as f:
        c.send(build_request("GET", url))
        time.sleep(0.3)  # the head is in, the body still coming
        f.send(build_request("GET", url))  # a follower, streaming the same file
        time.sleep(0.1)
        r = fetch(magpie.port, method, url, body=b"new" if method == "POST" else None)
        assert r.status in (200, 204, 404)
        first, follower = c.read_response(), f.read_response()
    assert first.status == 200 and number(first) == 1
    assert follower.body == first.body and len(first.body) == 50, "the followers still get it whole"
    after = fetch(magpie.port, "GET", url)
    assert after.header("x-cache") != "HIT", "the fetch from before the %s was stored" % method
