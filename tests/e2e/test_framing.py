"""Message framing (RFC 9112 §6, §7, §3): requests are framed by their body
whatever Upgrade says, chunked framing is strict in both directions,
trailers are bounded and dropped, request lines and Host are checked.

Several tests use RawOrigin, a small origin written here so the test decides
exactly what the origin reads and sends, byte for byte."""

import select
import socket
import threading
import time

import pytest

from rawhttp import Closed, is_error_body


class RawOrigin:
    """An origin whose every connection runs handler(conn_no, sock, reader).

    reader.head() returns (request_line, [(name, value)]) or None at EOF;
    reader.read(n) returns up to n bytes. Every head is recorded in
    self.requests as (conn_no, request_line, headers).
    """

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.lock = threading.Lock()
        self.lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(16)
        self.port = self.lst.getsockname()[1]
        self.socks = []
        self.conns = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def targets(self):
        with self.lock:
            return [line.split(" ")[1] for _, line, _ in self.requests]

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.lst.accept()
            except OSError:
                return
            s.settimeout(10)
            self.conns += 1
            self.socks.append(s)
            threading.Thread(target=self._run, args=(self.conns, s), daemon=True).start()

    def _run(self, no, s):
        try:
            self.handler(no, s, _Reader(self, no, s))
        except (OSError, socket.timeout):
            pass
        finally:
            s.close()

    def stop(self):
        self.stopped = True
        self.lst.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


class _Reader:
    def __init__(self, origin, no, sock):
        self.origin, self.no, self.sock, self.buf = origin, no, sock, b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        fields = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
        with self.origin.lock:
            self.origin.requests.append((self.no, lines[0], fields))
        return lines[0], fields

    def read(self, n):
        while len(self.buf) < n:
            if not self._fill():
                break
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def field(fields, name):
    for n, v in fields:
        if n.lower() == name.lower():
            return v
    return None


def answer_then_discard(no, sock, rd):
    """Answers each request from its head, naming its target, then reads and
    discards its Content-Length body: the origin of issue 9's item 1."""
    while True:
        h = rd.head()
        if h is None:
            return
        line, fields = h
        body = line.split(" ")[1].encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        n = int(field(fields, "Content-Length") or 0)
        rd.read(n)


@pytest.fixture
def raw_origin():
    made = []

    def make(handler):
        o = RawOrigin(handler)
        made.append(o)
        return o

    yield make
    for o in made:
        o.stop()


def smuggling_body(n):
    """A request hidden in a body, padded to n bytes."""
    hidden = b"GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Pad: "
    return hidden + b"p" * (n - len(hidden) - 4) + b"\r\n\r\n"


def upgrade_post(target, body, extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: foo\r\nConnection: upgrade\r\n"
            b"Content-Length: %d\r\n%s\r\n" % (target.encode(), len(body), extra))


# -- item 1: requests are framed by their body -----------------------------------

def test_upgrade_post_body_is_forwarded_and_pool_stays_in_sync(magpie, raw_origin):
    o = raw_origin(answer_then_discard)
    body = smuggling_body(300)
    with magpie.conn() as a:
        a.send(upgrade_post(o.url("/first"), body) + body)
        r = a.read_response()
        assert r.status == 200 and r.body == b"/first"
    with magpie.conn() as b:
        b.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/second").encode())
        r = b.read_response(timeout=5)
        assert r.status == 200 and r.body == b"/second", "the next client's GET was eaten"
    assert o.targets() == ["/first", "/second"]
    with o.lock:
        (c1, _, f1), (c2, _, _) = o.requests
    assert c1 == c2, "the pooled connection was not reused: the scenario did not happen"
    assert field(f1, "Upgrade") is None, "a non-WebSocket Upgrade went to the origin"
    assert int(field(f1, "Content-Length")) == len(body)


def test_upgrade_post_answered_before_its_body_is_not_pooled(magpie, raw_origin):
    """The origin answers from the head; the client sends its body only
    afterwards. The request was not sent whole: the origin connection is
    closed, never handed to the next client."""
    o = raw_origin(answer_then_discard)
    body = smuggling_body(300)
    with magpie.conn() as a:
        # with Expect, the head goes up before the body (a small body without
        # it would be read whole before magpie takes an origin connection)
        a.send(upgrade_post(o.url("/first"), body, b"Expect: 100-continue\r\n"))
        r = a.read_response()
        assert r.status == 200 and r.body == b"/first"
        a.send(body)
        with magpie.conn() as b:
            b.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/second").encode())
            r = b.read_response(timeout=5)
            assert r.status == 200 and r.body == b"/second"
    assert "/smuggled" not in o.targets()
    assert o.targets() == ["/first", "/second"]
    with o.lock:
        assert o.requests[0][0] != o.requests[1][0]


def test_upgrade_request_with_body_keeps_the_client_connection(magpie, raw_origin):
    o = raw_origin(answer_then_discard)
    with magpie.conn() as c:
        c.send(upgrade_post(o.url("/a"), b"hello") + b"hello")
        assert c.read_response().body == b"/a"
        # the body was not taken for a pipelined request: the next one is ours
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/b").encode())
        assert c.read_response().body == b"/b"
    assert o.targets() == ["/a", "/b"]


def test_101_before_the_request_body_is_502(magpie, raw_origin):
    """A WebSocket upgrade with a body: a 101 before the body was sent would
    make the rest of the body tunnel bytes."""
    def switch_early(no, sock, rd):
        if rd.head() is None:
            return
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\n")
        time.sleep(2)

    o = raw_origin(switch_early)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\nhalf"
               % o.url("/ws").encode())
        r = c.read_response()
        assert r.status == 502 and is_error_body(r)
        assert b"before the request body" in r.body


# -- item 2: strict chunked framing, bounded trailers ----------------------------

def hold_until_body(no, sock, rd):
    """Reads heads and whatever follows; never answers (magpie must)."""
    while rd.head() is not None:
        while rd._fill():
            pass


CHUNK_ATTACKS = {
    "bare-LF-in-chunk-ext": b"3;x\nabc\r\n0\r\n\r\n",
    "bare-LF-after-size": b"3\nabc\r\n0\r\n\r\n",
    "two-bytes-instead-of-CRLF": b"3\r\nabcXY0\r\n\r\n",
    "bare-LF-after-data": b"3\r\nabc\n0\r\n\r\n",
    "bare-CR-line-end": b"3\rabc\r\n0\r\n\r\n",
    "bare-CR-after-data": b"3\r\nabc\r0\r\n\r\n",
    "overlong-size": b"1" + b"0" * 16 + b"\r\n",
    "size-line-too-long": b"1" + b";a" * 3000 + b"\r\nx\r\n0\r\n\r\n",
    "bad-trailer": b"0\r\nX-T : 1\r\n\r\n",
    "bare-LF-trailer-end": b"0\r\nX-T: 1\r\n\n",
}


@pytest.mark.parametrize("body", list(CHUNK_ATTACKS.values()), ids=list(CHUNK_ATTACKS))
def test_chunked_smuggling_is_400_and_close(magpie, raw_origin, body):
    o = raw_origin(hold_until_body)
    head = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            % o.url("/post").encode())
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with magpie.conn() as c:
        c.send(head + body + smuggled)
        r = c.read_response()
        assert r.status == 400 and is_error_body(r), r.body
        assert b"chunk" in r.body or b"trailer" in r.body, r.body
        assert c.closed_by_peer()
    assert "/smuggled" not in o.targets()


@pytest.mark.parametrize("te", [b"gzip, chunked", b"chunked, chunked", b"identity",
                                b"chunked\r\nTransfer-Encoding: chunked", b"xchunked"],
                         ids=["gzip-chunked", "chunked-twice", "identity", "two-lines", "xchunked"])
def test_transfer_coding_other_than_one_chunked_is_400(magpie, origin, te):
    with magpie.conn() as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n"
               % (origin.url("/echo").encode(), te))
        r = c.read_response()
        assert r.status == 400 and is_error_body(r)
        assert c.closed_by_peer()
    assert origin.request_count() == 0


def test_request_trailer_is_not_forwarded(magpie, raw_origin):
    seen = []

    def read_chunked(no, sock, rd):
        h = rd.head()
        if h is None:
            return
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            got = rd.read(1)
            if not got:
                return
            data += got
        seen.append(data)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    o = raw_origin(read_chunked)
    with magpie.conn() as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n0\r\nX-Secret: 1\r\nContent-Length: 7\r\n\r\n" % o.url("/t").encode())
        assert c.read_response().status == 200
    assert seen == [b"3\r\nabc\r\n0\r\n\r\n"]
    with o.lock:
        fields = o.requests[0][2]
    assert field(fields, "X-Secret") is None


@pytest.mark.time_limit(60)
def test_huge_request_trailer_is_431_without_memory_growth(magpie, origin):
    """A 128 MiB trailer: refused once past limits.max_header_bytes (64 KiB in
    the tests), sending only until refused, and magpie's RSS stays put."""
    rss0, _ = magpie.memory()
    line = b"X-Flood: " + b"a" * 1013 + b"\r\n"  # 1 KiB
    piece = line * 64
    sent = 0
    with magpie.conn() as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
               % origin.url("/echo").encode())
        while sent < 128 * 1024 * 1024:
            if select.select([c.sock], [], [], 0)[0]:
                break  # an answer: refused
            if not c.send(piece):
                break
            sent += len(piece)
        r = c.read_response()
        assert r.status == 431 and is_error_body(r), r
        assert b"trailer" in r.body
    assert sent < 16 * 1024 * 1024, "magpie kept reading a trailer it should have refused"
    rss1, _ = magpie.memory()
    assert rss1 - rss0 < 16 * 1024 * 1024, (rss0, rss1)


def test_response_trailer_over_the_limit_is_a_visible_close(magpie, raw_origin):
    def flood(no, sock, rd):
        if rd.head() is None:
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        time.sleep(0.3)
        sock.sendall(b"0\r\n")
        for _ in range(200):
            sock.sendall(b"X-Flood: " + b"a" * 1013 + b"\r\n")
        sock.sendall(b"\r\n")
        time.sleep(1)

    o = raw_origin(flood)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/big-trailer").encode())
        r = c.read_response()
        assert r.status == 200 and r.chunked and not r.complete, r
        assert c.eof or c.closed_by_peer()
    magpie.wait_error_log(r"trailer section too large")


def test_response_trailer_over_the_limit_before_any_byte_is_502(magpie, raw_origin):
    def flood(no, sock, rd):
        if rd.head() is None:
            return
        # complete, but over the limit: a parser without one relays a 200
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
                     (b"X-Flood: " + b"a" * 1013 + b"\r\n") * 100 + b"\r\n")
        time.sleep(1)

    o = raw_origin(flood)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/big-trailer").encode())
        r = c.read_response()
        assert r.status == 502 or (r.chunked and not r.complete), r


def test_response_trailer_fields_are_dropped(magpie, raw_origin):
    def with_trailer(no, sock, rd):
        while rd.head() is not None:
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Secret\r\n"
                         b"\r\n3\r\nabc\r\n0\r\nX-Secret: 1\r\n\r\n")

    o = raw_origin(with_trailer)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/t").encode())
        r = c.read_response()
        assert r.status == 200 and r.body == b"abc" and r.complete
        assert r.header("X-Secret") is None
        assert r.wire_length == r.head_length + len(b"3\r\nabc\r\n0\r\n\r\n")


# -- an origin's malformed response ----------------------------------------------

BAD_RESPONSES = {
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "two-bytes-after-data": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
    "bare-LF-in-ext": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nabc\r\n",
    "gzip-coding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
    "gzip-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "TE-and-length": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
}


@pytest.mark.parametrize("raw", list(BAD_RESPONSES.values()), ids=list(BAD_RESPONSES))
def test_malformed_response_before_any_byte_is_502(magpie, raw_origin, raw):
    def bad(no, sock, rd):
        if rd.head() is None:
            return
        sock.sendall(raw)
        time.sleep(1)

    o = raw_origin(bad)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/bad").encode())
        r = c.read_response()
        assert r.status == 502 and is_error_body(r), r
    magpie.wait_error_log(r"bad response from 127\.0\.0\.1:%d" % o.port)


# -- item 4: request line and Host -----------------------------------------------

def reject(magpie, raw, status):
    with magpie.conn() as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == status and is_error_body(r), (r, r.body)
        assert c.closed_by_peer(), "connection left open after a %d" % r.status
    return r


@pytest.mark.parametrize("raw", [
    b"GET /bytes/1 HTTP/1.1\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\n\r\n",
], ids=["origin-form", "absolute-form"])
def test_http11_without_host_is_400(magpie, origin, raw):
    raw = raw.replace(b"127.0.0.1", origin.authority.encode())
    r = reject(magpie, raw, 400)
    assert b"Host" in r.body
    assert origin.request_count() == 0


def test_http10_without_host_is_served(magpie, origin):
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.0\r\n\r\n" % origin.url("/bytes/3").encode())
        assert c.read_response().status == 200


@pytest.mark.parametrize("host", [b"a b", b"api.local x", b"a\x01b", b"a\x7f", b"h:99999",
                                  b"u@h", b"h/p", b"\xc3\xa9"],
                         ids=["space", "space-in-route", "ctl", "del", "port", "userinfo",
                              "slash", "non-ascii"])
def test_host_not_an_authority_is_400(magpie, origin, host):
    raw = b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin.url("/bytes/1").encode(), host)
    r = reject(magpie, raw, 400)
    # control bytes are refused by the field parser already
    assert b"Host" in r.body or b"invalid character in header" in r.body, r.body
    assert origin.request_count() == 0


def test_two_hosts_is_400(magpie, origin):
    reject(magpie, b"GET /bytes/1 HTTP/1.1\r\nHost: api.local\r\nHost: api.local\r\n\r\n", 400)
    assert origin.request_count() == 0


def test_transfer_encoding_in_http10_is_400(magpie, origin):
    reject(magpie, b"POST %s HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           % origin.url("/echo").encode(), 400)
    assert origin.request_count() == 0


@pytest.mark.parametrize("line", [
    b"GET  %s HTTP/1.1",
    b"GET %s  HTTP/1.1",
    b"GET\t%s HTTP/1.1",
    b"GET %s\tHTTP/1.1",
    b"GET %s?a\tb HTTP/1.1",
    b"GET %s?a\x01b HTTP/1.1",
    b"GET %s?a\x7fb HTTP/1.1",
    b"GET %s?a\xffb HTTP/1.1",
    b"GET %s?a\x0cb HTTP/1.1",
    b"GET %s HTTP/1.1 ",
], ids=["double-space-before", "double-space-after", "tab-after-method", "tab-before-version",
        "tab-in-target", "ctl-in-target", "del-in-target", "0xff-in-target", "ff-in-target",
        "trailing-space"])
def test_bad_request_line_is_400(magpie, origin, line):
    raw = (line % origin.url("/bytes/1").encode()) + b"\r\nHost: x\r\n\r\n"
    reject(magpie, raw, 400)
    assert origin.request_count() == 0


@pytest.mark.parametrize("version", [b"HTTP/1.9", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9"])
def test_unsupported_version_is_505(magpie, origin, version):
    r = reject(magpie, b"GET %s %s\r\nHost: x\r\n\r\n" % (origin.url("/bytes/1").encode(),
                                                          version), 505)
    assert origin.request_count() == 0
    assert b"version" in r.body


def test_options_asterisk_reaches_the_reverse_origin(magpie_factory, raw_origin):
    def allow(no, sock, rd):
        while rd.head() is not None:
            sock.sendall(b"HTTP/1.1 204 No Content\r\nAllow: GET, OPTIONS\r\n\r\n")

    o = raw_origin(allow)
    m = magpie_factory(routes=[{"host": "api.local", "origin": o.url("")}])
    with m.conn() as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: api.local\r\n\r\n")
        r = c.read_response()
        assert r.status == 204 and r.header("Allow") == "GET, OPTIONS"
    with o.lock:
        (_, line, fields), = o.requests
    assert line == "OPTIONS * HTTP/1.1"
    assert field(fields, "Host") == "api.local"


def test_options_asterisk_in_forward_mode_is_400(magpie, origin):
    r = reject(magpie, b"OPTIONS * HTTP/1.1\r\nHost: %s\r\n\r\n" % origin.authority.encode(), 400)
    assert b"OPTIONS *" in r.body
    assert origin.request_count() == 0


def test_connect_with_a_body_is_400(magpie, origin):
    reject(magpie, b"CONNECT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n\r\nhello"
           % ((origin.authority.encode(),) * 2), 400)


def test_options_absolute_form_without_path_is_sent_as_asterisk(magpie, raw_origin):
    def allow(no, sock, rd):
        while rd.head() is not None:
            sock.sendall(b"HTTP/1.1 204 No Content\r\nAllow: GET\r\n\r\n")

    o = raw_origin(allow)
    with magpie.conn() as c:
        c.send(b"OPTIONS %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (o.url("").encode(), o.port))
        assert c.read_response().status == 204
        c.send(b"OPTIONS %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (o.url("/x").encode(), o.port))
        assert c.read_response().status == 204
    with o.lock:
        lines = [line for _, line, _ in o.requests]
    assert lines == ["OPTIONS * HTTP/1.1", "OPTIONS /x HTTP/1.1"]


def test_pipelined_after_a_chunked_request(magpie, raw_origin):
    def chunked_then_plain(no, sock, rd):
        while True:
            h = rd.head()
            if h is None:
                return
            line, fields = h
            body = b""
            if field(fields, "Transfer-Encoding"):
                while not body.endswith(b"0\r\n\r\n"):
                    got = rd.read(1)
                    if not got:
                        return
                    body += got
            path = line.split(" ")[1].encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))

    o = raw_origin(chunked_then_plain)
    with magpie.conn() as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
               b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (o.url("/1").encode(),
                                                              o.url("/2").encode()))
        assert c.read_response().body == b"/1"
        assert c.read_response().body == b"/2"
    assert o.targets() == ["/1", "/2"]


def test_websocket_upgrade_with_a_body_tunnels_after_the_body(magpie, raw_origin):
    def ws(no, sock, rd):
        h = rd.head()
        if h is None:
            return
        body = rd.read(int(field(h[1], "Content-Length")))
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\nbody=" + body)
        while True:
            data = rd.read(1)
            if not data:
                return
            sock.sendall(data.upper())

    o = raw_origin(ws)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nContent-Length: 5\r\n\r\nhello" % o.url("/ws").encode())
        r = c.read_response()
        assert r.status == 101
        assert c.wait_for(b"body=hello")
        c.send(b"frames")
        assert c.wait_for(b"FRAMES")
