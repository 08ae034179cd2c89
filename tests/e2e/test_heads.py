"""Response heads as magpie ends them (respond.c): one Via whose version is
that of the response as magpie got it (the origin's for relayed responses
and for hits of what it stored, 1.1 for answers it makes itself), exactly
one Connection field on every final head, and the access log's sent field
counting every byte the client received: heads, interim responses, chunk
framing and bodies, whether relayed, from the memory tier, from a file or
made by magpie.

Each measured exchange is one request on its own connection with
Connection: close, so the bytes received up to the close are exactly the
bytes magpie sent for it."""

import time

import pytest

from conftest import PROXY_NAME, poll
from origin import pattern
import rawhttp
from rawhttp import build_request
from test_cache_memory import flip_body_byte
from test_cache_store import HOST, assert_body, cache_dir, cached_route, file_for, quiescent
from test_framing import field, raw_origin  # noqa: F401 (raw_origin: a fixture)

VIA10 = "1.0 " + PROXY_NAME
VIA11 = "1.1 " + PROXY_NAME
CC60 = "Cache-Control=public%2C%20max-age%3D60"


# -- helpers ---------------------------------------------------------------------

ACCESS_FIELDS = ("time", "client", "method", "url", "status", "bytes", "ms", "cache", "upstream",
                 "received", "coding", "followed")


def parse(line):
    """An access log line's fields (method and URL are "-" for a request
    whose line could not be read)."""
    f = line.split()
    assert len(f) == len(ACCESS_FIELDS), "access log line: %r" % line
    return dict(zip(ACCESS_FIELDS, f))


class _Replay(rawhttp.Conn):
    """rawhttp's response reader over bytes already received."""

    def __init__(self, data):
        self.buf, self.eof, self.timeout = data, True, 1.0


def responses(data, method="GET"):
    """Every response in data, interim ones included, in order."""
    rd, out = _Replay(data), []
    deadline = time.monotonic() + 1.0
    while rd.buf:
        out.append(rd._read_one(method, deadline))
    return out


def exchange(m, request, method="GET", body_after_100=None):
    """Sends one request on a new connection and reads until magpie closes
    it: (every byte received, the responses in them). With body_after_100
    the body goes once an interim 100 arrived."""
    with m.conn() as c:
        c.send(request)
        if body_after_100 is not None:
            assert c.wait_for(b"\r\n\r\n"), "no interim response: %r" % c.buf
            assert c.buf.startswith(b"HTTP/1.1 100 "), c.buf
            c.send(body_after_100)
        data = c.read_all()
    assert data, "nothing received"
    return data, responses(data, method)


def closing(method, target, headers=(), **kw):
    return build_request(method, target, headers=list(headers) + [("Connection", "close")], **kw)


def log_fields(m, path, n=1):
    """The access log fields of the n-th request whose URL ends with path."""
    def nth():
        lines = [parse(l) for l in m.access_log_lines()]
        hits = [f for f in lines if f["url"].endswith(path)]
        return hits[n - 1] if len(hits) >= n else None
    f = poll(nth)
    assert f, "no access line %d for %s; log:\n%s" % (n, path,
                                                     "\n".join(m.access_log_lines()[-20:]))
    return f


def assert_sent(m, path, data, n=1):
    f = log_fields(m, path, n)
    assert int(f["bytes"]) == len(data), \
        "sent field %s, the client received %d bytes (%s %s)" % (f["bytes"], len(data),
                                                                  f["status"], f["cache"])
    return f


def via_list(r):
    """The Via entries of r in order, however many fields carry them."""
    return ", ".join(r.header_all("via"))


def assert_one_connection(r, want=None):
    vals = r.header_all("connection")
    assert len(vals) == 1, "Connection fields %r in %r" % (vals, r)
    if want is not None:
        assert vals[0].lower() == want, r


def versioned_origin(minor):
    """An origin answering HTTP/1.<minor> with a stored-for-60s body and its
    own Via, keep-alive on either version."""
    def handler(no, sock, rd):
        while True:
            h = rd.head()
            if h is None:
                return
            body = b"version %d\n" % minor
            keep = b"Connection: keep-alive\r\n" if minor == 0 else b""
            sock.sendall(b"HTTP/1.%d 200 OK\r\nCache-Control: max-age=60\r\nVia: 1.1 upstream\r\n"
                         b"%sContent-Length: %d\r\n\r\n%s" % (minor, keep, len(body), body))
    return handler


def continue_then_echo(no, sock, rd):
    """An interim 100 as soon as the head arrives, then the body echoed."""
    h = rd.head()
    if h is None:
        return
    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = rd.read(int(field(h[1], "Content-Length")))
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


# -- Via: the version of the response as magpie got it ---------------------------

@pytest.mark.parametrize("minor", [0, 1])
def test_via_version_is_the_origins_relayed_and_stored(magpie, raw_origin, minor):
    o = raw_origin(versioned_origin(minor))
    url = o.url("/v%d" % minor)
    want = "1.1 upstream, 1.%d %s" % (minor, PROXY_NAME)
    miss = rawhttp.fetch(magpie.port, "GET", url)
    assert miss.status == 200 and miss.body == b"version %d\n" % minor
    assert miss.header("x-cache") == "MISS", miss
    assert miss.header_all("via") == [want]
    assert_one_connection(miss, "keep-alive")
    quiescent(cache_dir(magpie))
    hit = rawhttp.fetch(magpie.port, "GET", url)
    assert hit.header("x-cache") == "HIT", hit
    assert via_list(hit) == want, "the stored response's Via"
    assert_one_connection(hit, "keep-alive")
    head = rawhttp.fetch(magpie.port, "HEAD", url)
    assert head.header("x-cache") == "HIT" and via_list(head) == want
    cond = rawhttp.fetch(magpie.port, "GET", url, headers=[("Range", "bytes=0-2")])
    assert cond.status == 206 and cond.body == b"ver" and via_list(cond) == want, cond
    assert len(o.requests) == 1, "hits went to the origin: %r" % o.requests


def test_a_hit_merges_the_stored_via_into_one_field(magpie, raw_origin):
    """As a relayed response does: one Via field, the origin's entries first."""
    o = raw_origin(versioned_origin(0))
    url = o.url("/one-via")
    assert rawhttp.fetch(magpie.port, "GET", url).header_all("via") == ["1.1 upstream, " + VIA10]
    quiescent(cache_dir(magpie))
    hit = rawhttp.fetch(magpie.port, "GET", url)
    assert hit.header("x-cache") == "HIT", hit
    assert hit.header_all("via") == ["1.1 upstream, " + VIA10]


def test_via_version_is_not_the_clients(magpie, raw_origin):
    """An HTTP/1.0 client of a 1.1 origin: Via still names the origin's 1.1."""
    o = raw_origin(versioned_origin(1))
    r = rawhttp.fetch(magpie.port, "GET", o.url("/v1-for-1.0"), version="HTTP/1.0")
    assert r.status == 200
    assert r.header_all("via") == ["1.1 upstream, " + VIA11]
    assert_one_connection(r, "close")


# -- local answers ------------------------------------------------------------------

def check_local(r, status, connection):
    assert r.status == status, r
    assert r.header_all("via") == [VIA11], r
    assert_one_connection(r, connection)
    assert r.header("cache-control") == "no-store", r
    assert rawhttp.is_error_body(r) or status == 404, r.body


def test_local_answers_say_via_and_connection(magpie, origin, closed_port):
    with magpie.conn() as c:
        r = c.request("PURGE", origin.url("/never-stored"))
        check_local(r, 404, "keep-alive")
        r = c.request("GET", origin.url("/headers?" + CC60),
                      headers=[("Cache-Control", "only-if-cached")])
        check_local(r, 504, "keep-alive")
        r = c.request("GET", "http://127.0.0.1:%d/refused" % closed_port)
        check_local(r, 502, "keep-alive")
        r = c.request("PURGE", origin.url("/never-stored"), headers=[("Connection", "close")])
        check_local(r, 404, "close")
        assert c.closed_by_peer()
    with magpie.conn() as c:
        c.send(b"GARBAGE\r\n\r\n")
        check_local(c.read_response(), 400, "close")
        assert c.closed_by_peer()
    # an HTTP/1.0 client: magpie's own answers are still HTTP/1.1's
    r = rawhttp.fetch(magpie.port, "PURGE", origin.url("/never-stored"), version="HTTP/1.0")
    check_local(r, 404, "close")
    assert r.version == "HTTP/1.1"


def test_acl_and_limit_answers_say_via_and_connection(magpie_factory, origin):
    m = magpie_factory(acl={"allow": ["10.0.0.0/8"]})
    check_local(rawhttp.fetch(m.port, "GET", origin.url("/bytes/3")), 403, "close")
    m = magpie_factory(limits={"max_connections": 1})
    time.sleep(0.2)  # let magpie see the readiness probe go away
    with m.conn() as a:
        assert a.request("GET", origin.url("/bytes/1")).status == 200
        with m.conn() as b:
            b.send(build_request("GET", origin.url("/bytes/1")))
            check_local(b.read_response(timeout=3), 503, "close")
    assert origin.request_count() == 1


def test_an_answer_to_connect_closes(magpie, origin):
    """README: any answer to CONNECT closes, the 403 for a port not allowed too."""
    with magpie.conn() as c:
        c.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
               % (origin.port, origin.port))
        r = c.read_response(timeout=3)
        check_local(r, 403, "close")
        assert c.read_all(timeout=3) == b"", "the connection was closed after it"


# -- sent: every byte the client received ------------------------------------------

def test_sent_counts_a_chunked_relay_with_its_framing(magpie, origin):
    path = "/chunked/50000?chunk=1000&sent"
    data, rs = exchange(magpie, closing("GET", origin.url(path)))
    assert len(rs) == 1 and rs[0].chunked and rs[0].complete, rs
    assert rs[0].body == pattern(50000)
    assert len(data) > rs[0].head_length + 50000, "no chunk framing counted"
    assert_sent(magpie, path, data)


def test_sent_counts_a_close_delimited_relay(magpie, origin):
    """A chunked response to an HTTP/1.0 client goes close-delimited."""
    path = "/chunked/30000?chunk=700&sent10"
    data, rs = exchange(magpie, build_request("GET", origin.url(path), version="HTTP/1.0"))
    assert len(rs) == 1 and rs[0].close_delimited and rs[0].body == pattern(30000), rs
    assert_sent(magpie, path, data)


def counted(m, path, nth, cache, n=None, method="GET", headers=()):
    """One request to the cached route, answered with that X-Cache (and,
    given n, the whole pattern body), its sent field the bytes received;
    (the bytes, the response)."""
    data, rs = exchange(m, closing(method, path, headers, host=HOST), method=method)
    assert len(rs) == 1 and rs[0].header("x-cache") == cache, rs
    if n is not None:
        assert_body(rs[0], n, "%s %s #%d" % (method, cache, nth))
    if method == "HEAD":
        assert rs[0].body == b"" and len(data) == rs[0].head_length
    assert_sent(m, path, data, nth)
    return data, rs[0]


def test_sent_counts_hits_from_memory(magpie_factory, origin):
    """The first hit reads the file and keeps a copy in memory; once the
    file is damaged, a whole body proves the next hits come from that copy."""
    m = magpie_factory(routes=cached_route(origin))
    n = 20000
    path = "/bytes/%d?sent=mem" % n
    counted(m, path, 1, "MISS", n)
    quiescent(cache_dir(m))
    counted(m, path, 2, "HIT", n)
    flip_body_byte(file_for(cache_dir(m), "sent=mem"), n)
    counted(m, path, 3, "HIT", n)
    counted(m, path, 4, "HIT", n)
    counted(m, path, 5, "HIT", method="HEAD")
    assert "checksum mismatch" not in m.error_log_text()


def test_sent_counts_hits_from_a_file(magpie_factory, origin):
    """An object over the memory tier's per-object limit (an eighth of
    memory_size) is always sent from its file."""
    m = magpie_factory(routes=cached_route(origin), cache={"memory_size": "1MiB"})
    n = 300000  # over 128 KiB
    path = "/bytes/%d?sent=disk" % n
    counted(m, path, 1, "MISS", n)
    quiescent(cache_dir(m))
    counted(m, path, 2, "HIT", n)
    counted(m, path, 3, "HIT", n)
    _, r = counted(m, path, 4, "HIT", method="HEAD")
    assert int(r.header("content-length")) == n
    # and a range of it, 206 from the file
    _, r = counted(m, path, 5, "HIT", headers=[("Range", "bytes=1000-70999")])
    assert r.status == 206 and r.body == pattern(n)[1000:71000], r


def test_sent_counts_a_304_and_a_head_hit(magpie, origin):
    path = "/headers?%s&ETag=%%22s1%%22&sent304" % CC60
    url = origin.url(path)
    data, rs = exchange(magpie, closing("GET", url))
    assert_sent(magpie, path, data, 1)
    quiescent(cache_dir(magpie))
    data, rs = exchange(magpie, closing("GET", url, [("If-None-Match", '"s1"')]))
    assert len(rs) == 1 and rs[0].status == 304 and rs[0].header("x-cache") == "HIT", rs
    assert len(data) == rs[0].head_length
    assert_one_connection(rs[0], "close")
    assert_sent(magpie, path, data, 2)
    data, rs = exchange(magpie, closing("HEAD", url), method="HEAD")
    assert len(rs) == 1 and rs[0].status == 200 and rs[0].header("x-cache") == "HIT", rs
    assert int(rs[0].header("content-length")) == len(b"headers\n")
    assert len(data) == rs[0].head_length
    assert_sent(magpie, path, data, 3)
    assert origin.request_count() == 1


def test_sent_counts_an_interim_100(magpie, raw_origin):
    o = raw_origin(continue_then_echo)
    path = "/continue?sent"
    req = closing("POST", o.url(path), [("Content-Length", "5"), ("Expect", "100-continue")])
    data, rs = exchange(magpie, req, body_after_100=b"hello")
    assert [r.status for r in rs] == [100, 200], rs
    assert rs[1].body == b"hello"
    assert rs[0].header_all("via") == [VIA11] and rs[0].header("connection") is None, rs[0]
    assert_one_connection(rs[1], "close")
    assert len(data) == rs[0].head_length + rs[1].wire_length
    assert_sent(magpie, path, data)


def test_sent_counts_local_answers(magpie, origin):
    path = "/never-stored?sent404"
    data, rs = exchange(magpie, closing("PURGE", origin.url(path)))
    assert len(rs) == 1 and rs[0].status == 404, rs
    assert_sent(magpie, path, data)
    with magpie.conn() as c:
        c.send(b"GET /bad path HTTP/1.1\r\nHost: x\r\n\r\n")
        data = c.read_all()
    rs = responses(data)
    assert len(rs) == 1 and rs[0].status == 400, rs
    f = parse(magpie.wait_access_line(lambda l: parse(l)["status"] == "400"))
    assert f["method"] == "-" and int(f["bytes"]) == len(data), f


# -- exactly one Connection field -------------------------------------------------------

def test_every_final_head_has_one_connection_field(magpie, origin):
    """Relayed, stored, conditional, HEAD and local answers, on keep-alive
    and closing requests and from an HTTP/1.0 client, with origins that
    send their own Connection (close, keep-alive, or options)."""
    cached = origin.url("/headers?%s&ETag=%%22c1%%22&one" % CC60)
    assert rawhttp.fetch(magpie.port, "GET", cached).status == 200
    quiescent(cache_dir(magpie))
    asks = [
        ("GET", origin.url("/bytes/10?one"), []),
        ("GET", origin.url("/chunked/10?one"), []),
        ("GET", origin.url("/nolength/10?one"), []),
        ("GET", origin.url("/status/204?one"), []),
        ("GET", origin.url("/headers?Connection=keep-alive&one"), []),
        ("GET", origin.url("/headers?Connection=X-Opt&X-Opt=1&one"), []),
        ("GET", origin.url("/headers?Connection=close&one2"), []),
        ("GET", cached, []),
        ("HEAD", cached, []),
        ("GET", cached, [("If-None-Match", '"c1"')]),
        ("POST", origin.url("/echo?one"), []),
        ("PURGE", origin.url("/never-stored?one"), []),
        ("GET", cached + "&nothere", [("Cache-Control", "only-if-cached")]),
    ]
    for method, url, headers in asks:
        for extra, version, want in (([], "HTTP/1.1", "keep-alive"),
                                     ([("Connection", "close")], "HTTP/1.1", "close"),
                                     ([], "HTTP/1.0", "close")):
            body = b"x" if method == "POST" else None
            req = build_request(method, url, headers=headers + extra, body=body, version=version)
            with magpie.conn() as c:
                c.send(req)
                r = c.read_response(method=method)
            label = "%s %s %s %r" % (version, method, url, headers + extra)
            assert r.status in (200, 204, 304, 404, 504), label
            vals = r.header_all("connection")
            assert len(vals) == 1, "%s: Connection fields %r" % (label, vals)
            # magpie's Connection states its own decision, never an origin's options
            assert vals[0].lower() in ("keep-alive", "close"), "%s: %r" % (label, vals)
            assert vals[0].lower() == want, label
            assert "x-opt" not in r.header_names(), label


def test_a_101_says_connection_upgrade_once(magpie, raw_origin):
    def switch(no, sock, rd):
        if rd.head() is None:
            return
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nConnection: keep-alive\r\n\r\n")
        sock.sendall(rd.read(4))
    o = raw_origin(switch)
    with magpie.conn() as c:
        c.send(build_request("GET", o.url("/ws"), headers=[
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]))
        assert c.wait_for(b"\r\n\r\n"), c.buf
        i = c.buf.index(b"\r\n\r\n") + 4
        rs = responses(c.buf[:i])
        c.buf = c.buf[i:]
        c.send(b"ping")
        assert c.wait_for(b"ping"), c.buf
    assert len(rs) == 1 and rs[0].status == 101, rs
    assert rs[0].header_all("connection") == ["Upgrade"], rs[0]
    assert rs[0].header("upgrade") == "websocket"
    assert rs[0].header_all("via") == [VIA11]
