"""test_attacks.py - a hostile client and a hostile origin against the cache
key, the Set-Cookie policy, the destination checks and the life cycle of a
fetch that outlives its client. Each test is an attack that once worked or
that guards a plausible way in; the docstring says which."""

import hashlib
import random
import signal
import socket
import threading
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


def test_set_cookie_named_by_qualified_no_cache_is_not_reused(magpie, script):
    """no-cache="Set-Cookie" is the origin's way to share a page but not its
    cookie: the stored copy goes out after each revalidation, and it must
    not carry the first client's session to the next."""
    def h(req, n):
        cc = ("Cache-Control", 'public, max-age=300, no-cache="Set-Cookie"')
        if any(k.lower() == "if-none-match" for k, _ in req[1]):
            return response(304, [("ETag", '"v1"'), cc], b"", n)
        return response(200, [("ETag", '"v1"'), cc, ("Set-Cookie", "session=user%d" % n)],
                        b"page\n", n)
    o = script(h)
    url = o.url("/page")
    alice = fetch(magpie.port, "GET", url)
    assert alice.header("set-cookie") == "session=user1"
    bob = fetch(magpie.port, "GET", url)
    assert bob.status == 200 and bob.body == b"page\n"
    assert bob.header("set-cookie") is None, "Bob got Alice's session"
    assert len(o.requests) == 2, "no-cache: revalidated"


def test_vary_too_long_to_key_is_not_stored(magpie, script):
    """A Vary that does not fit the secondary key must not lose its last
    field: here Cookie, on a second line after a long first one."""
    pad = ", ".join("X-Pad-%04d" % i for i in range(380))
    def h(req, n):
        cookie = [v for k, v in req[1] if k.lower() == "cookie"]
        return response(200, [("Cache-Control", "public, max-age=60"), ("Vary", pad),
                              ("Vary", "Cookie")], ("for %s\n" % cookie).encode(), n)
    o = script(h)
    url = o.url("/v")
    a = fetch(magpie.port, "GET", url, headers=[("Cookie", "user=alice")])
    assert b"alice" in a.body
    b = fetch(magpie.port, "GET", url, headers=[("Cookie", "user=bob")])
    assert b"bob" in b.body, "Bob got Alice's page: %r" % b.body


def test_get_with_a_body_is_neither_stored_nor_served_from_the_cache(magpie, script):
    """Some origins (search APIs) answer a GET by its body, which the key
    does not hold: a GET with a body bypasses the cache."""
    o = script(lambda req, n: response(200, [("Cache-Control", "public, max-age=60"),
                                             ("Connection", "close")], b"result %d\n" % n, n))
    url = o.url("/search")
    assert number(fetch(magpie.port, "GET", url)) == 1  # stored, bodiless
    a = fetch(magpie.port, "GET", url, body=b'{"q": "alice"}')
    b = fetch(magpie.port, "GET", url, body=b'{"q": "bob"}')
    assert (number(a), number(b)) == (2, 3), "a GET's body was not what the key described"
    assert fetch(magpie.port, "GET", url).header("x-cache") == "HIT"


def test_followers_do_not_get_an_authorized_leaders_answer(magpie, script):
    """Requests collapsed onto a fetch made with Authorization: its answer
    (max-age, no public) is for that user only; each follower asks itself."""
    def h(req, n):
        who = [v for k, v in req[1] if k.lower() == "authorization"]
        if n == 1:
            time.sleep(0.5)  # followers gather
        return response(200, [("Cache-Control", "max-age=60")], ("for %s\n" % who).encode(), n)
    o = script(h)
    url = o.url("/me")
    with magpie.conn() as lead:
        lead.send(build_request("GET", url, headers=[("Authorization", "Bearer alice")]))
        time.sleep(0.15)
        conns = [magpie.conn() for _ in range(2)]
        for c in conns:
            c.send(build_request("GET", url))
        assert b"alice" in lead.read_response().body
        for c in conns:
            r = c.read_response()
            c.close()
            assert b"alice" not in r.body, "a follower got Alice's answer"


def test_head_answer_is_never_a_get_body(magpie, script):
    """A HEAD miss is relayed, not stored: the GET after it gets a body of
    its own, and a HEAD after a stored GET gets that GET's head alone."""
    def h(req, n):
        body = b"x" * 1000
        head = response(200, [("Cache-Control", "public, max-age=60")], body, n)
        return head[:-len(body)] if req[0].startswith("HEAD") else head
    o = script(h)
    url = o.url("/h")
    with magpie.conn() as c:
        r = c.request("HEAD", url)
        assert r.status == 200 and r.body == b""
        g = c.request("GET", url)
        assert g.body == b"x" * 1000 and g.header("x-cache") == "MISS"
        h2 = c.request("HEAD", url)
        assert h2.header("x-cache") == "HIT" and h2.header("content-length") == "1000"
        g2 = c.request("GET", url)
        assert g2.body == b"x" * 1000 and g2.header("x-cache") == "HIT"


# ---- destinations ----

@pytest.mark.parametrize("url", ["http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
                                 "http://[::169.254.169.254]/latest/meta-data/"])
def test_ipv4_embedded_for_translation_is_checked_as_ipv4(magpie, url):
    """A NAT64 (64:ff9b::/96) delivers to the IPv4 address in the low 32
    bits: the metadata address written that way is refused as itself."""
    r = fetch(magpie.port, "GET", url)
    assert r.status == 403 and b"is link-local / cloud metadata (acl)" in r.body, r


@pytest.mark.parametrize("form", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.0.1.",
                                  "0", "LOCALHOST", "[::ffff:7f00:1]"])
def test_odd_ipv4_spellings_never_reach_the_own_listener(magpie, form):
    """Decimal, hex, octal, short and dotted spellings are no address to
    magpie (inet_aton would take them): a name that does not resolve, or,
    resolved, the own-listener refusal; never magpie talking to itself."""
    r = fetch(magpie.port, "GET", "http://%s:%d/" % (form, magpie.port))
    assert r.status in (403, 502), r
    assert b"cannot resolve" in r.body or b"own listener" in r.body, r.body


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


def test_invalidation_before_a_fetchs_head_is_not_undone_either(magpie, script):
    """The GET went to the origin before the POST, its answer comes after
    the POST's: it may predate the change all the same. It is not stored,
    and a GET sent after the POST does not join it."""
    def h(req, n):
        if not req[0].startswith("GET"):
            return response(204, [], b"", n)
        if n == 1:
            time.sleep(0.8)
        return response(200, [("Cache-Control", "public, max-age=60")], b"version %d\n" % n, n)
    o = script(h)
    url = o.url("/doc")
    with magpie.conn() as c, magpie.conn() as late:
        c.send(build_request("GET", url))
        time.sleep(0.2)
        assert fetch(magpie.port, "POST", url, body=b"new").status == 204
        late.send(build_request("GET", url))  # after the change: its own fetch
        first, after = c.read_response(), late.read_response()
    assert number(first) == 1
    assert number(after) != 1, "a GET sent after the POST got the answer from before it"
    again = fetch(magpie.port, "GET", url)
    assert number(again) != 1, "the fetch from before the POST was stored"


def test_invalidation_racing_a_revalidation_is_no_502(magpie, script):
    """A POST anyone may send invalidates the URL while a stale copy is
    being revalidated: the origin's 304 still vouches for the copy the
    revalidating client's exchange holds, which it gets, not a 502."""
    def h(req, n):
        if not req[0].startswith("GET"):
            return response(204, [], b"", n)
        if any(k.lower() == "if-none-match" for k, _ in req[1]):
            time.sleep(0.6)
            return response(304, [("ETag", '"v1"'), ("Cache-Control", "max-age=1")], b"", n)
        return response(200, [("ETag", '"v1"'), ("Cache-Control", "max-age=1")], b"page\n", n)
    o = script(h)
    url = o.url("/doc")
    assert fetch(magpie.port, "GET", url).status == 200
    time.sleep(1.5)  # stale now
    with magpie.conn() as c:
        c.send(build_request("GET", url))
        time.sleep(0.2)
        assert fetch(magpie.port, "POST", url, body=b"x").status == 204
        r = c.read_response()
    assert r.status == 200 and r.body == b"page\n", r


# ---- the life of a fetch that outlives its client ----

from test_stalls import (StallOrigin, cache_config, get, read_body, read_head, read_some,  # noqa: E402
                         reset, sha, small_conn, start_leader)

MB = 1 << 20


@pytest.fixture
def big():
    o = StallOrigin()
    yield o
    o.stop()


def test_detached_fetch_through_reload_joined_late_frees_its_slot(magpie_factory, big):
    """The leader leaves mid-body, the config is reloaded, a new client
    joins the fetch its client left: it gets the whole body, the object is
    stored, and the fetch's max_connections slot comes back."""
    n = 8 * MB
    m = magpie_factory(**cache_config(limits={"max_connections": 3, "client_idle_timeout": "30s"}))
    path = "/big/%d?cc=public,max-age=60&pace=0.2" % n
    leader, _ = start_leader(m, big, path)
    reset(leader)
    m.wait_error_log(r"goes on for the cache")
    m.signal(signal.SIGHUP)
    m.wait_error_log(r"configuration reloaded")
    s = socket.create_connection(("127.0.0.1", m.port), timeout=20)
    try:
        s.sendall(get(big.url(path)))
        head, rest = read_head(s)
        assert b"collapsed" in head.lower(), head
        digest, got = read_body(s, rest, n, time.monotonic() + 20)
    finally:
        s.close()
    assert got == n and digest == sha(n)
    assert poll(lambda: "closed: done" in m.error_log_text().split("goes on for the cache")[-1],
                timeout=10)
    # three connections at once (once magpie saw the follower go): the
    # detached fetch gave its slot back
    def three_at_once():
        conns = [m.conn() for _ in range(3)]
        try:
            rs = [c.request("GET", big.url(path)) for c in conns]
        finally:
            for c in conns:
                c.close()
        if any(r.status == 503 for r in rs):
            return False
        for r in rs:
            assert r.status == 200 and len(r.body) == n and "hit" in r.header("cache-status")
        return True
    assert poll(three_at_once, timeout=5, step=0.2), "a slot is still taken"
    assert len([r for r in big.requests if r.path.startswith("/big")]) == 1


def test_sigterm_with_a_detached_fetch_exits_cleanly(magpie_factory, big):
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=public,max-age=60&pace=0.5" % (16 * MB)
    leader, _ = start_leader(m, big, path)
    f = small_conn(m.port)
    f.sendall(get(big.url(path)))
    read_head(f)
    reset(leader)
    m.wait_error_log(r"goes on for the cache")
    m.signal(signal.SIGTERM)
    assert m.expect_exit(10) == 0, m.exit_message(None)
    f.close()


def test_pipelined_request_of_a_leader_behind_its_fetch(magpie_factory, big):
    """A leader that fell behind (reading the file) with its next request
    already sent: it gets the whole body, then its next answer."""
    n = 8 * MB
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=public,max-age=60" % n
    s = small_conn(m.port)
    try:
        s.sendall(get(big.url(path)) + get(big.url("/big/1000?cc=public,max-age=60")))
        head, rest = read_head(s)
        first = read_some(s, rest, MB // 2)
        assert poll(lambda: "behind its fetch" in m.error_log_text(), timeout=10)
        time.sleep(0.5)
        buf = bytearray(first)
        deadline = time.monotonic() + 20
        # until the second answer is whole: its head and 1000 body bytes
        # may come in any number of reads
        while time.monotonic() < deadline:
            end = buf.find(b"\r\n\r\n", n)
            if end >= 0 and len(buf) >= end + 4 + 1000:
                break
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
    finally:
        s.close()
    assert hashlib.sha256(bytes(buf[:n])).hexdigest() == sha(n)
    second = bytes(buf[n:])
    assert second.startswith(b"HTTP/1.1 200"), (second[:200], m.error_log_text()[-3000:])
    h, _, body = second.partition(b"\r\n\r\n")
    assert len(body) == 1000, (h, len(body), m.error_log_text()[-3000:])


# ---- max_connections ----

def test_background_refreshes_do_not_take_every_connection_slot(magpie_factory, script):
    """One connection pipelining stale-while-revalidate hits on many keys
    starts a refresh per key; with a slow origin they would hold every
    max_connections slot and turn new clients away with 503."""
    def h(req, n):
        path = req[0].split(" ")[1]
        with lock:
            seen[path] = seen.get(path, 0) + 1
            again = seen[path] > 1
        if again:
            time.sleep(4)  # a refresh: slow
        return response(200, [("Cache-Control", "public, max-age=1, stale-while-revalidate=600")],
                        b"k\n", n)
    lock, seen = threading.Lock(), {}
    o = script(h)
    m = magpie_factory(limits={"max_connections": 4})
    keys = [o.url("/k%d" % i) for i in range(8)]
    for k in keys:
        assert fetch(m.port, "GET", k).status == 200
    time.sleep(2.1)  # all stale, within stale-while-revalidate
    with m.conn() as c:
        c.send(b"".join(build_request("GET", k) for k in keys))
        for _ in keys:
            r = c.read_response()
            assert r.status == 200 and "stale" in r.header("x-cache").lower(), r
        time.sleep(0.3)
        r = fetch(m.port, "GET", o.url("/other"))
        assert r.status == 200, "background refreshes took every slot: %r" % r
    assert poll(lambda: any(v > 1 for v in seen.values())), "no refresh at all"


def test_clients_leaving_slow_fetches_cannot_take_every_slot(magpie_factory, big):
    """A fetch its client left goes on, holding a connection slot, for as
    long as the origin trickles: one client that asks for slow cacheable
    objects and leaves, again and again, must not fill max_connections."""
    m = magpie_factory(**cache_config(limits={"max_connections": 8, "client_idle_timeout": "30s"}))
    for i in range(8):
        s = small_conn(m.port)
        s.sendall(get(big.url("/big/%d?cc=public,max-age=60&pace=3&r=%d" % (4 * MB, i))))
        read_head(s)
        reset(s)
    time.sleep(0.3)
    assert "goes on for the cache" in m.error_log_text()
    r = fetch(m.port, "GET", big.url("/big/10"))
    assert r.status == 200, "fetches without clients took every slot: %r" % r


@pytest.mark.time_limit(90)
def test_invalidations_and_reloads_amid_leaving_clients_leave_magpie_sane(magpie_factory, big):
    """Collapsed fetches whose leaders and followers leave at every stage,
    PURGEs and POSTs invalidating them mid-stream, and reloads: whoever
    stays gets a whole body or a visible cut, and the sanitized daemon
    stays up and exits cleanly (the fixture checks)."""
    rnd = random.Random(9)
    m = magpie_factory(**cache_config(upstream={"read_timeout": "2s"}))
    n = 2 * MB
    for i in range(8):
        path = "/big/%d?cc=public,max-age=60&delay=0.05&pace=0.3&r=%d" % (n, i)
        url = big.url(path)
        socks = []
        for _ in range(3):
            s = small_conn(m.port)
            s.sendall(get(url))
            socks.append(s)
        keep = socket.create_connection(("127.0.0.1", m.port), timeout=20)
        time.sleep(rnd.choice((0.0, 0.1, 0.3)))
        keep.sendall(get(url))
        for s in socks:
            time.sleep(rnd.choice((0.0, 0.05, 0.2)))
            reset(s)
        what = rnd.choice(("PURGE", "POST", "HUP", "none"))
        if what == "HUP":
            m.signal(signal.SIGHUP)
        elif what != "none":
            fetch(m.port, what, url, body=b"x" if what == "POST" else None)
        head, rest = read_head(keep)
        assert head.startswith(b"HTTP/1.1 200"), head
        digest, got = read_body(keep, rest, n, time.monotonic() + 20)
        keep.close()
        assert got == n and digest == sha(n), (i, what, got)
    assert fetch(m.port, "GET", big.url("/big/100")).status == 200


def test_purge_while_the_leader_is_behind_keeps_its_body_whole(magpie_factory, big):
    """The leader reads the object file (it fell behind) when a PURGE dooms
    the fetch: the file is never committed, yet the leader reads it to the
    end, and the next request is a miss."""
    n = 8 * MB
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=public,max-age=60&pace=0.3" % n
    s = small_conn(m.port)
    try:
        s.sendall(get(big.url(path)))
        head, rest = read_head(s)
        first = read_some(s, rest, MB // 2)
        assert poll(lambda: "behind its fetch" in m.error_log_text(), timeout=10)
        fetch(m.port, "PURGE", big.url(path))
        digest, got = read_body(s, first, n, time.monotonic() + 30)
    finally:
        s.close()
    assert got == n and digest == sha(n)
    assert poll(lambda: "removed while it was fetched" in m.error_log_text(), timeout=10)
    r = fetch(m.port, "GET", big.url(path))
    assert r.header("x-cache") == "MISS" and hashlib.sha256(r.body).hexdigest() == sha(n)


def test_range_followers_of_a_partly_written_object_get_their_bytes(magpie_factory, big):
    """Range requests joining a fetch still being written: each gets the
    bytes it asked for (a suffix not yet written included), or a 416."""
    from origin import pattern
    n = 4 * MB
    m = magpie_factory(**cache_config())
    path = "/big/%d?cc=public,max-age=60&pace=0.3" % n
    leader, _ = start_leader(m, big, path)
    try:
        body = pattern(n)
        for rng, want in (("bytes=-100", body[-100:]), ("bytes=1000-1999", body[1000:2000]),
                          ("bytes=%d-" % (n - 10), body[-10:])):
            with m.conn(timeout=20) as c:
                r = c.request("GET", big.url(path), headers=[("Range", rng)])
            assert r.status == 206 and r.body == want, (rng, r)
            assert r.header("content-range").endswith("/%d" % n)
            assert rng != "bytes=-100" or "collapsed" in r.header("cache-status"), r
        with m.conn(timeout=20) as c:
            r = c.request("GET", big.url(path), headers=[("Range", "bytes=%d-" % n)])
        assert r.status == 416, r
    finally:
        leader.close()
    assert len([q for q in big.requests if q.path.startswith("/big")]) == 1


from test_tls_listener import tls_listen  # noqa: E402
from upstream_util import certs, client_context, magpie_listen_factory  # noqa: E402,F401


def test_tls_leader_leaving_mid_body_detaches_cleanly(magpie_listen_factory, big, certs):
    """The TLS session of a leader that leaves is freed when its fetch goes
    on without it; the fetch still completes for a follower and the store."""
    n = 8 * MB
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)], **cache_config())
    path = "/big/%d?cc=public,max-age=60&pace=0.2" % n
    s = client_context(certs.ca).wrap_socket(small_conn(m.port), server_hostname="127.0.0.1")
    s.sendall(get(big.url(path)))
    head, rest = read_head(s)
    read_some(s, rest, MB)
    reset(s)
    m.wait_error_log(r"goes on for the cache")
    f = client_context(certs.ca).wrap_socket(small_conn(m.port), server_hostname="127.0.0.1")
    try:
        f.sendall(get(big.url(path)))
        head, rest = read_head(f)
        digest, got = read_body(f, rest, n, time.monotonic() + 20)
    finally:
        f.close()
    assert got == n and digest == sha(n)
