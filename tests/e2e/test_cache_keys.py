"""The cache key describes what the origin was asked (issue 9, item 3), and
the RFC 9111 gaps of item 8: Vary on every forwarded line of a field,
reverse routes keyed on the Host as forwarded, query values of one name in
their order, Set-Cookie never handed from one client to another, Age lists,
Content-Range on hits, 1xx before a stored final response, stale responses
for an unreachable origin (cache.stale_on_error), RFC 9213 targeted fields,
a 304 nobody asked for, and the background refresh's request.

ScriptOrigin answers with bytes a test function builds from each request,
so a test controls every byte on the wire; it numbers its answers."""

import re
import socket
import threading
import time

import pytest

import rawhttp
from rawhttp import fetch


class ScriptOrigin:
    """One thread per connection; handler(req, n) returns the bytes of the
    answer (a list: pieces sent 0.2 s apart; None: close without answering;
    an answer saying Connection: close closes after it). Requests are recorded as
    (request line, [(name, value)])."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(5)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(10)
        buf = b""
        try:
            while not self.stopping.is_set():
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                fields = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
                req = (lines[0], fields)
                with self.lock:
                    self.requests.append(req)
                    n = len(self.requests)
                out = self.handler(req, n)
                if out is None:
                    return
                pieces = out if isinstance(out, list) else [out]
                for piece in pieces:
                    conn.sendall(piece)
                    if isinstance(out, list):
                        time.sleep(0.2)  # pieces arrive apart
                if b"connection: close" in pieces[-1].lower():
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def headers_of(self, i):
        return self.requests[i][1]

    def header(self, i, name):
        vals = [v for k, v in self.requests[i][1] if k.lower() == name.lower()]
        return vals[0] if vals else None


def response(status=200, headers=(), body=b"body\n", n=0, reason="OK"):
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    lines += ["%s: %s" % kv for kv in headers]
    lines.append("X-Response-Number: %d" % n)
    if status not in (204, 304) and status >= 200:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body if status not in (204, 304) else b"")


@pytest.fixture
def script():
    made = []

    def make(handler):
        o = ScriptOrigin(handler)
        made.append(o)
        return o

    yield make
    for o in made:
        o.stop()


def number(r):
    return int(r.header("x-response-number"))


def cached(cc="public, max-age=60", extra=()):
    """A handler answering 200 with Cache-Control cc and a numbered body."""
    def h(req, n):
        return response(200, [("Cache-Control", cc)] + list(extra), b"answer %d\n" % n, n)
    return h


# ---- 3a: Vary on the combined, forwarded value ----

def test_vary_keys_on_every_line_of_a_field(magpie, script):
    o = script(cached(extra=[("Vary", "Accept-Language")]))
    url = o.url("/v")
    two = [("Accept-Language", "en"), ("Accept-Language", "fr")]
    r1 = fetch(magpie.port, "GET", url, headers=two)
    r2 = fetch(magpie.port, "GET", url, headers=[("Accept-Language", "en")])
    assert number(r2) != number(r1), "a request with only the first line shared the variant"
    r3 = fetch(magpie.port, "GET", url, headers=[("Accept-Language", "en, fr")])
    assert number(r3) == number(r1), "two lines and their combined value are the same request"
    r4 = fetch(magpie.port, "GET", url, headers=two)
    assert r4.header("x-cache") == "HIT" and number(r4) == number(r1)


def test_vary_ignores_a_field_that_was_not_forwarded(magpie, script):
    o = script(cached(extra=[("Vary", "X-Flavour")]))
    url = o.url("/hop")
    r1 = fetch(magpie.port, "GET", url,
               headers=[("X-Flavour", "evil"), ("Connection", "X-Flavour")])
    assert o.header(0, "X-Flavour") is None, "a field named in Connection was forwarded"
    # the origin saw no X-Flavour: the stored response is the one for no X-Flavour
    r2 = fetch(magpie.port, "GET", url)
    assert r2.header("x-cache") == "HIT" and number(r2) == number(r1)
    r3 = fetch(magpie.port, "GET", url, headers=[("X-Flavour", "evil")])
    assert number(r3) != number(r1), "a hop-by-hop value keyed the stored variant"


# ---- 3b: reverse routes key on the Host as forwarded ----

def test_reverse_routes_key_on_the_forwarded_host(magpie_factory, script):
    def h(req, n):
        host = [v for k, v in req[1] if k.lower() == "host"][0]
        return response(200, [("Cache-Control", "public, max-age=60")],
                        ("for %s\n" % host).encode(), n)
    o = script(h)
    origin = o.url("")
    m = magpie_factory(routes=[{"host": "rev.test", "origin": origin},
                               {"host": "other.test", "origin": origin}])
    a = fetch(m.port, "GET", "/p", host="rev.test")
    b = fetch(m.port, "GET", "/p", host="rev.test:9999")
    c = fetch(m.port, "GET", "/p", host="other.test")
    assert (a.body, b.body, c.body) == (b"for rev.test\n", b"for rev.test:9999\n",
                                        b"for other.test\n")
    assert len({number(a), number(b), number(c)}) == 3, "two Hosts shared an entry"
    again = fetch(m.port, "GET", "/p", host="REV.test:9999")
    assert again.header("x-cache") == "HIT" and again.body == b"for rev.test:9999\n"
    # a forward-proxy request for the same names never reaches these entries
    fwd = fetch(m.port, "GET", o.url("/p"))
    assert fwd.header("x-cache") == "MISS"


def test_reverse_invalidation_and_purge_use_the_forwarded_host(magpie_factory, script):
    def h(req, n):
        if req[0].startswith("POST"):
            return response(201, [("Location", "/doc"), ("Content-Location", "http://rev.test:9999/other")],
                            b"made\n", n)
        return response(200, [("Cache-Control", "public, max-age=60")], b"doc %d\n" % n, n)
    o = script(h)
    m = magpie_factory(routes=[{"host": "rev.test", "origin": o.url("")}])
    plain = fetch(m.port, "GET", "/doc", host="rev.test")
    ported = fetch(m.port, "GET", "/doc", host="rev.test:9999")
    other = fetch(m.port, "GET", "/other", host="rev.test:9999")
    p = fetch(m.port, "POST", "/form", host="rev.test:9999", body=b"x")
    assert p.status == 201
    assert fetch(m.port, "GET", "/doc", host="rev.test").header("x-cache") == "HIT", \
        "a POST with another Host invalidated this one"
    assert number(fetch(m.port, "GET", "/doc", host="rev.test:9999")) != number(ported)
    assert number(fetch(m.port, "GET", "/other", host="rev.test:9999")) != number(other)
    # PURGE removes the entry of its own Host only
    assert fetch(m.port, "PURGE", "/doc", host="rev.test").status == 200
    assert fetch(m.port, "PURGE", "/doc", host="rev.test").status == 404
    assert fetch(m.port, "GET", "/doc", host="rev.test:9999").header("x-cache") == "HIT"
    assert number(fetch(m.port, "GET", "/doc", host="rev.test")) != number(plain)


# ---- 3c: query values of one name keep their order ----

def test_repeated_query_names_in_another_order_are_another_entry(magpie, script):
    o = script(cached())
    r1 = fetch(magpie.port, "GET", o.url("/q?a=1&a=2"))
    r2 = fetch(magpie.port, "GET", o.url("/q?a=2&a=1"))
    assert number(r2) != number(r1), "?a=1&a=2 and ?a=2&a=1 shared an entry"
    r3 = fetch(magpie.port, "GET", o.url("/q?b=0&a=1&a=2"))
    r4 = fetch(magpie.port, "GET", o.url("/q?a=1&b=0&a=2"))
    assert number(r4) == number(r3), "different names still sort"


# ---- 3d: Set-Cookie ----

def cookie_origin(script, cc):
    def h(req, n):
        hdrs = [("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
                ("Set-Cookie", "session=user%d" % n)]
        if cc:
            hdrs.append(("Cache-Control", cc))
        return response(200, hdrs, b"page %d\n" % n, n)
    return script(h)


def test_heuristic_response_with_set_cookie_is_not_stored(magpie, script):
    o = cookie_origin(script, None)
    url = o.url("/page")
    alice = fetch(magpie.port, "GET", url)
    assert alice.header("set-cookie") == "session=user1"
    assert alice.header("cache-status") == "magpie; fwd=uri-miss; detail=set-cookie"
    bob = fetch(magpie.port, "GET", url)
    assert bob.header("set-cookie") == "session=user2", "Bob got Alice's session"
    assert bob.header("x-cache") == "MISS"


def test_explicit_freshness_with_set_cookie_is_shared(magpie, script):
    o = cookie_origin(script, "public, max-age=60")
    url = o.url("/page")
    first = fetch(magpie.port, "GET", url)
    hit = fetch(magpie.port, "GET", url)
    assert hit.header("x-cache") == "HIT" and hit.header("set-cookie") == first.header("set-cookie")


def test_set_cookie_strip_stores_without_it(magpie_factory, script):
    o = cookie_origin(script, None)
    m = magpie_factory(cache={"set_cookie": "strip"})
    url = o.url("/page")
    alice = fetch(m.port, "GET", url)
    assert alice.header("set-cookie") == "session=user1", "the fetching client lost its cookie"
    bob = fetch(m.port, "GET", url)
    assert bob.header("x-cache") == "HIT" and number(bob) == number(alice)
    assert bob.header("set-cookie") is None, "a hit sent another client's cookie"


def test_set_cookie_never_stores_nothing_with_it(magpie_factory, script):
    o = cookie_origin(script, "public, max-age=60")
    m = magpie_factory(cache={"set_cookie": "never"})
    url = o.url("/page")
    a = fetch(m.port, "GET", url)
    b = fetch(m.port, "GET", url)
    assert b.header("x-cache") == "MISS" and number(b) != number(a)
    assert b.header("set-cookie") == "session=user2"


# ---- 8: Age lists, Content-Range, 1xx, stale_on_error ----

def test_list_based_age_uses_its_first_member(magpie, script):
    def h(req, n):
        ages = {"/list": [("Age", "50, 10")], "/two": [("Age", "50"), ("Age", "10")],
                "/bad": [("Age", "x, 50")]}[req[0].split()[1]]
        return response(200, [("Cache-Control", "max-age=30")] + ages, b"aged\n", n)
    o = script(h)
    for path in ("/list", "/two"):
        r1 = fetch(magpie.port, "GET", o.url(path))
        r2 = fetch(magpie.port, "GET", o.url(path))
        assert number(r2) != number(r1), "%s: Age 50 > max-age 30 yet served as fresh" % path
    r1 = fetch(magpie.port, "GET", o.url("/bad"))
    r2 = fetch(magpie.port, "GET", o.url("/bad"))
    assert r2.header("x-cache") == "HIT", "an invalid Age is ignored, not read as its second member"
    assert int(r2.header("age")) < 30


def test_a_stored_200_keeps_its_content_range(magpie_factory, script):
    o = script(cached(extra=[("Content-Range", "bytes 0-4/100")]))
    for memory in ("64MiB", 0):
        m = magpie_factory(cache={"memory_size": memory})
        url = o.url("/cr%s" % memory)
        first = fetch(m.port, "GET", url)
        assert first.header("content-range") == "bytes 0-4/100"
        for _ in range(2):  # the file, then the memory copy
            hit = fetch(m.port, "GET", url)
            assert hit.header("x-cache") == "HIT"
            assert hit.header("content-range") == "bytes 0-4/100"
        m.stop()
        m.checked = True


def test_final_response_after_103_is_stored_in_forward_mode(magpie, script):
    def h(req, n):
        early = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        return [early, early, response(200, [("Cache-Control", "public, max-age=60")],
                                       b"final %d\n" % n, n)]
    o = script(h)
    url = o.url("/hints")
    with rawhttp.Conn(magpie.port) as c:
        c.send(rawhttp.build_request("GET", url))
        r1 = c.read_response()
        if r1.status == 103:
            r1 = c.read_response()
    assert r1.status == 200 and r1.body == b"final 1\n"
    assert r1.header("cache-status") == "magpie; fwd=uri-miss; stored"
    r2 = fetch(magpie.port, "GET", url)
    assert r2.status == 200 and r2.header("x-cache") == "HIT" and r2.body == r1.body


def test_interim_and_204_carry_no_content_length(magpie, script):
    def h(req, n):
        return (b"HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\nLink: </a>\r\n\r\n"
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                b"Cache-Control: public, max-age=60\r\nX-Response-Number: %d\r\n\r\n" % n)
    o = script(h)
    url = o.url("/nc")
    with rawhttp.Conn(magpie.port) as c:
        c.send(rawhttp.build_request("GET", url))
        c.wait_for(b"\r\n\r\nHTTP/1.1 204", timeout=5)
        raw = c.buf
    interim, _, final = raw.partition(b"\r\n\r\n")
    assert interim.startswith(b"HTTP/1.1 103") and b"content-length" not in interim.lower()
    assert b"content-length" not in final.lower(), final
    hit = fetch(magpie.port, "GET", url)
    assert hit.status == 204 and hit.header("x-cache") == "HIT"
    assert hit.header("content-length") is None, "a 204 hit with Content-Length"


def stale_setup(magpie_factory, script, cc, **cache):
    o = script(lambda req, n: response(200, [("Cache-Control", cc), ("Connection", "close")],
                                       b"kept %d\n" % n, n))
    m = magpie_factory(cache=cache, upstream={"connect_timeout": "1s", "read_timeout": "1s",
                                              "retries": 0})
    url = o.url("/s")
    first = fetch(m.port, "GET", url)
    assert first.status == 200
    time.sleep(1.3)
    return o, m, url, first


def test_stale_on_error_serves_when_the_origin_refuses(magpie_factory, script):
    o, m, url, first = stale_setup(magpie_factory, script, "max-age=1")
    o.stop()  # connections are refused now
    r = fetch(m.port, "GET", url)
    assert r.status == 200 and r.body == first.body
    assert r.header("x-cache") == "STALE"
    cs = r.header("cache-status")
    ttl = re.fullmatch(r"magpie; hit; fwd=stale; ttl=(-?\d+); detail=origin-unreachable", cs)
    assert ttl and int(ttl.group(1)) <= 0, cs  # stale: no freshness left
    assert r.header("warning") is None


def test_stale_on_error_serves_when_the_origin_resets_or_times_out(magpie_factory, script):
    mode = {"how": None}

    def h(req, n):
        if mode["how"] == "reset":
            return None  # closes without a byte
        if mode["how"] == "hang":
            time.sleep(2.5)
            return None
        return response(200, [("Cache-Control", "max-age=1")], b"kept %d\n" % n, n)
    o = script(h)
    m = magpie_factory(upstream={"connect_timeout": "1s", "read_timeout": "1s", "retries": 0})
    url = o.url("/r")
    first = fetch(m.port, "GET", url)
    time.sleep(1.3)
    for how in ("reset", "hang"):
        mode["how"] = how
        r = fetch(m.port, "GET", url)
        assert r.status == 200 and r.body == first.body, how
        assert "origin-unreachable" in r.header("cache-status"), how


def test_stale_on_error_serves_when_connecting_times_out(magpie_factory, script, blackhole):
    import signal
    o = script(lambda req, n: response(200, [("Cache-Control", "max-age=1")], b"kept %d\n" % n, n))
    up = {"connect_timeout": "1s", "read_timeout": "1s", "retries": 0}
    m = magpie_factory(routes=[{"host": "rev.test", "origin": o.url("")}], upstream=up)
    first = fetch(m.port, "GET", "/ct", host="rev.test")
    time.sleep(1.3)
    # the same route (and so the same key) now leads to an origin whose connects hang
    m.write_config({"routes": [{"host": "rev.test", "origin": "http://127.0.0.1:%d" % blackhole}],
                    "upstream": up})
    m.signal(signal.SIGHUP)
    m.wait_error_log(r"configuration reloaded")
    r = fetch(m.port, "GET", "/ct", host="rev.test")
    assert r.status == 200 and r.body == first.body
    assert "origin-unreachable" in r.header("cache-status")
    m.wait_error_log(r"connect to 127.0.0.1:%d timed out" % blackhole)


def test_stale_on_error_refuses_what_the_origin_forbids(magpie_factory, script):
    for cc in ("max-age=1, must-revalidate", "max-age=1, proxy-revalidate", "max-age=1, no-cache",
               "max-age=1, s-maxage=1"):
        o, m, url, _ = stale_setup(magpie_factory, script, cc)
        o.stop()
        r = fetch(m.port, "GET", url)
        assert r.status == 502, "%s: served stale anyway" % cc
        m.stop()
        m.checked = True


def test_stale_on_error_limits(magpie_factory, script):
    # 0 turns it off
    o, m, url, _ = stale_setup(magpie_factory, script, "max-age=1", stale_on_error="0s")
    o.stop()
    assert fetch(m.port, "GET", url).status == 502
    m.stop()
    m.checked = True
    # stale for longer than the limit
    o, m, url, _ = stale_setup(magpie_factory, script, "max-age=1", stale_on_error="1s")
    time.sleep(2.0)  # ages count whole seconds: well past the limit
    o.stop()
    assert fetch(m.port, "GET", url).status == 502


def test_stale_on_error_not_for_an_origin_that_answers(magpie_factory, script):
    state = {"fail": False}

    def h(req, n):
        if state["fail"]:
            return b"this is not HTTP\r\n\r\n"
        return response(200, [("Cache-Control", "max-age=1")], b"kept\n", n)
    o = script(h)
    m = magpie_factory(upstream={"retries": 0})
    url = o.url("/garbage")
    fetch(m.port, "GET", url)
    time.sleep(1.3)
    state["fail"] = True
    assert fetch(m.port, "GET", url).status == 502


# ---- 8: RFC 9213 targeted cache control ----

def targeted_route(magpie_factory, script, headers, **route_cache):
    o = script(lambda req, n: response(200, headers, b"t %d\n" % n, n))
    route = {"host": "cdn.test", "origin": o.url("")}
    if route_cache:
        route["cache"] = route_cache
    return o, magpie_factory(routes=[route])


def two(m, path="/t"):
    a = fetch(m.port, "GET", path, host="cdn.test")
    b = fetch(m.port, "GET", path, host="cdn.test")
    return a, b


def test_cdn_cache_control_decides_in_reverse_routes(magpie_factory, script):
    o, m = targeted_route(magpie_factory, script,
                          [("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=60")])
    a, b = two(m)
    assert b.header("x-cache") == "HIT" and number(b) == number(a)
    assert a.header("cdn-cache-control") == "max-age=60", "downstream caches lose the field"
    # the other way round: CDN-Cache-Control forbids what Cache-Control allows
    for value in ("no-store", "private", "no-cache"):
        o, m = targeted_route(magpie_factory, script,
                              [("Cache-Control", "public, max-age=60"),
                               ("ETag", '"e"'), ("CDN-Cache-Control", value)])
        a, b = two(m)
        assert number(b) != number(a), "CDN-Cache-Control: %s was not obeyed" % value


def test_invalid_cdn_cache_control_falls_back_to_cache_control(magpie_factory, script):
    o, m = targeted_route(magpie_factory, script,
                          [("Cache-Control", "public, max-age=60"), ("CDN-Cache-Control", "No-Store")])
    a, b = two(m)
    assert b.header("x-cache") == "HIT", "an invalid targeted field was not ignored"


def test_cdn_cache_control_is_ignored_in_forward_mode(magpie, script):
    o = script(lambda req, n: response(200, [("Cache-Control", "public, max-age=60"),
                                             ("CDN-Cache-Control", "no-store")], b"f\n", n))
    url = o.url("/f")
    fetch(magpie.port, "GET", url)
    assert fetch(magpie.port, "GET", url).header("x-cache") == "HIT"


def test_route_targeted_field_comes_first(magpie_factory, script):
    o, m = targeted_route(magpie_factory, script,
                          [("Cache-Control", "no-store"), ("CDN-Cache-Control", "no-store"),
                           ("Magpie-Cache-Control", "max-age=60")],
                          targeted_field="Magpie-Cache-Control")
    a, b = two(m)
    assert b.header("x-cache") == "HIT"
    # invalid: the next field on the list decides
    o, m = targeted_route(magpie_factory, script,
                          [("Cache-Control", "public, max-age=60"), ("CDN-Cache-Control", "no-store"),
                           ("Magpie-Cache-Control", "max-age=60,")],
                          targeted_field="Magpie-Cache-Control")
    a, b = two(m)
    assert number(b) != number(a), "an invalid route field hid CDN-Cache-Control"


def test_targeted_max_age_overrides_expires(magpie_factory, script):
    o, m = targeted_route(magpie_factory, script,
                          [("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
                           ("CDN-Cache-Control", "max-age=60")])
    a, b = two(m)
    assert b.header("x-cache") == "HIT"


# ---- 10: a 304 nobody asked for; the background refresh ----

def test_unsolicited_304_is_a_502(magpie, script):
    o = script(lambda req, n: response(304, [("ETag", '"x"')], n=n, reason="Not Modified"))
    r = fetch(magpie.port, "GET", o.url("/nm"))
    assert r.status == 502
    magpie.wait_error_log(r"304 to a request without validators")
    # a client's own conditional request may get its 304
    r = fetch(magpie.port, "GET", o.url("/nm2"), headers=[("If-None-Match", '"x"')])
    assert r.status == 304


def test_background_refresh_request_is_clean(magpie, script):
    def h(req, n):
        return response(200, [("Cache-Control", "max-age=1, stale-while-revalidate=30"),
                              ("ETag", '"v"')], b"swr %d\n" % n, n)
    o = script(h)
    url = o.url("/swr")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    # a client's request with a body-less Content-Length: 0, Expect and credentials
    r = fetch(magpie.port, "GET", url, headers=[("Authorization", "Bearer alice"),
                                                ("Cookie", "session=alice"),
                                                ("Expect", "100-continue"),
                                                ("Content-Length", "0")])
    assert r.status == 200
    deadline = time.monotonic() + 5
    while len(o.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(o.requests) == 2, "no background refresh"
    names = {k.lower() for k, _ in o.headers_of(1)}
    for bad in ("authorization", "cookie", "expect", "content-length", "transfer-encoding"):
        assert bad not in names, "the refresh carried %s" % bad


def test_background_refresh_keeps_what_the_variant_is_keyed_on(magpie, script):
    def h(req, n):
        return response(200, [("Cache-Control", "public, max-age=1, stale-while-revalidate=30"),
                              ("Vary", "Cookie")], b"swr %d\n" % n, n)
    o = script(h)
    url = o.url("/swrv")
    fetch(magpie.port, "GET", url, headers=[("Cookie", "lang=en"), ("Authorization", "Bearer a")])
    time.sleep(1.3)
    fetch(magpie.port, "GET", url, headers=[("Cookie", "lang=en"), ("Authorization", "Bearer a")])
    deadline = time.monotonic() + 5
    while len(o.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(o.requests) == 2
    assert o.header(1, "Cookie") == "lang=en"
    assert o.header(1, "Authorization") == "Bearer a", "public allowed it for Authorization"


# ---- 5: "stored" only for what will be committed ----

def test_stored_is_not_claimed_for_a_body_the_store_will_drop(magpie_factory, script):
    # the body alone is under max_object_size, but head and body are not
    o = script(lambda req, n: response(200, [("Cache-Control", "public, max-age=60"),
                                             ("X-Pad", "p" * 200)], b"b" * 900, n))
    m = magpie_factory(cache={"max_object_size": "1KiB"})
    url = o.url("/near-limit")
    r1 = fetch(m.port, "GET", url)
    assert r1.status == 200 and len(r1.body) == 900
    assert r1.header("cache-status") == "magpie; fwd=uri-miss", "claimed stored, then dropped it"
    assert fetch(m.port, "GET", url).header("x-cache") == "MISS"
    small = o.url("/small")
    o.handler = lambda req, n: response(200, [("Cache-Control", "public, max-age=60")], b"s", n)
    assert fetch(m.port, "GET", small).header("cache-status") == "magpie; fwd=uri-miss; stored"
    assert fetch(m.port, "GET", small).header("x-cache") == "HIT"


def test_stored_is_not_claimed_for_a_close_delimited_body(magpie, script):
    o = script(lambda req, n: b"HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\n"
                              b"Connection: close\r\n\r\nwhole body")
    with rawhttp.Conn(magpie.port) as c:
        c.send(rawhttp.build_request("GET", o.url("/close")))
        r = c.read_response()
    assert r.body == b"whole body"
    assert "stored" not in r.header("cache-status")
