"""Request smuggling, response splitting and desynchronisation, tried as a
hostile client and as a hostile origin: whatever the bytes, one request in
is at most one request out, every response goes to the request it answers,
and nothing the origin did not send as a response is relayed or stored as
one."""

import socket
import time

import pytest

from rawhttp import Closed, is_error_body
from test_framing import field, raw_origin  # noqa: F401 (fixture)

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def answer_each(no, sock, rd):
    """Answers every request with its target, after reading its body
    (Content-Length or chunked), so the origin stays in step."""
    while True:
        h = rd.head()
        if h is None:
            return
        line, fields = h
        if (field(fields, "Transfer-Encoding") or "").lower() == "chunked":
            data = b""
            while not data.endswith(b"0\r\n\r\n"):
                got = rd.read(1)
                if not got:
                    return
                data += got
        else:
            rd.read(int(field(fields, "Content-Length") or 0))
        body = line.split(" ")[1].encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def send_then_next(magpie, o, head_and_body):
    """Sends a request and a pipelined GET /next on one connection; returns
    the statuses seen (until close) and the origin's targets."""
    statuses = []
    with magpie.conn(timeout=5) as c:
        c.send(head_and_body + b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
               % o.url("/next").encode())
        for _ in range(3):
            try:
                r = c.read_response(timeout=3)
            except (Closed, TimeoutError):
                break
            statuses.append((r.status, r.body))
    return statuses, o.targets()


# -- hostile client: Content-Length -------------------------------------------

BAD_LENGTHS = {
    "plus": b"+5", "list": b"5, 5", "hex": b"0x5", "empty": b"", "negative": b"-5",
    "huge": b"99999999999999999999", "two-numbers": b"5 5", "2^63": b"9223372036854775808",
}


@pytest.mark.parametrize("cl", list(BAD_LENGTHS.values()), ids=list(BAD_LENGTHS))
def test_malformed_content_length_is_400_and_close(magpie, raw_origin, cl):
    o = raw_origin(answer_each)
    req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %s\r\n\r\nhello"
           % (o.url("/post").encode(), cl)) + SMUGGLED
    statuses, targets = send_then_next(magpie, o, req)
    assert targets == [], "the origin was asked for %r" % targets
    assert [s for s, _ in statuses] == [400], statuses


@pytest.mark.parametrize("cl", [b"05", b" 5 "], ids=["leading-zero", "spaces"])
def test_odd_but_valid_content_length_frames_exactly(magpie, raw_origin, cl):
    o = raw_origin(answer_each)
    req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %s\r\n\r\nhello"
           % (o.url("/post").encode(), cl))
    statuses, targets = send_then_next(magpie, o, req)
    assert statuses == [(200, b"/post"), (200, b"/next")]
    assert targets == ["/post", "/next"]


@pytest.mark.parametrize("second", [b"content-length: 5", b"Content-Length: 6",
                                    b"Transfer-Encoding: chunked"],
                         ids=["same-other-case", "different", "with-te"])
def test_second_framing_field_is_400(magpie, raw_origin, second):
    o = raw_origin(answer_each)
    req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n%s\r\n\r\nhello"
           % (o.url("/post").encode(), second)) + SMUGGLED
    statuses, targets = send_then_next(magpie, o, req)
    assert [s for s, _ in statuses] == [400], statuses
    assert targets == []


def test_get_with_content_length_body_is_not_a_second_request(magpie, raw_origin):
    o = raw_origin(answer_each)
    req = (b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
           % (o.url("/get").encode(), len(SMUGGLED))) + SMUGGLED
    statuses, targets = send_then_next(magpie, o, req)
    assert statuses == [(200, b"/get"), (200, b"/next")]
    assert targets == ["/get", "/next"]


# -- hostile client: Transfer-Encoding ------------------------------------------

@pytest.mark.parametrize("te", [b"chunked;", b'"chunked"', b"chunked\xff", b"chunk\x00ed",
                                b"identity\r\nTransfer-Encoding: chunked", b"chunked, identity"],
                         ids=["semicolon", "quoted", "obs-text", "nul", "second-line",
                              "identity-last"])
def test_transfer_encoding_variants_are_400(magpie, raw_origin, te):
    o = raw_origin(answer_each)
    req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: %s\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n" % (o.url("/post").encode(), te)) + SMUGGLED
    statuses, targets = send_then_next(magpie, o, req)
    assert [s for s, _ in statuses] == [400], statuses
    assert targets == []


@pytest.mark.parametrize("te", [b"Chunked", b" chunked", b"chunked\t", b"CHUNKED "],
                         ids=["case", "leading-space", "trailing-tab", "upper"])
def test_transfer_encoding_chunked_spellings_frame_as_chunked(magpie, raw_origin, te):
    o = raw_origin(answer_each)
    req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding:%s\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n" % (o.url("/post").encode(), te))
    statuses, targets = send_then_next(magpie, o, req)
    assert statuses == [(200, b"/post"), (200, b"/next")]
    assert targets == ["/post", "/next"]


# -- hostile client: field names and values ---------------------------------------

@pytest.mark.parametrize("line", [b": x", b"X\x00Y: 1", b"X\xffY: 1", b"Content-Length\x0b: 5",
                                  b"X-A: 1\rContent-Length: 5", b"X-A: \x001",
                                  b"Content-Length\t: 5", b"Transfer-Encoding : chunked",
                                  b"X-A: 1\r\n Transfer-Encoding: chunked",
                                  b"X-A: 1\nTransfer-Encoding: chunked"],
                         ids=["empty-name", "nul-in-name", "high-bit-name", "vt-in-name",
                              "bare-cr-value", "nul-value", "tab-before-colon",
                              "space-before-colon", "obs-fold", "bare-lf"])
def test_odd_field_lines_are_400(magpie, raw_origin, line):
    o = raw_origin(answer_each)
    req = (b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n\r\n" % (o.url("/get").encode(), line)
           + SMUGGLED)
    statuses, targets = send_then_next(magpie, o, req)
    assert [s for s, _ in statuses] == [400], statuses
    assert targets == []


def test_bare_lf_in_request_trailer_is_400(magpie, raw_origin):
    o = raw_origin(answer_each)
    req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\nX-T: 1\nContent-Length: 5\r\n\r\n" % o.url("/post").encode()) + SMUGGLED
    statuses, targets = send_then_next(magpie, o, req)
    assert [s for s, _ in statuses] == [400], statuses
    assert targets == []


# -- hostile client: answered by magpie itself, with a body --------------------

def test_refused_destination_with_a_body_does_not_run_the_body(magpie, raw_origin):
    """A 403 from the head of a POST whose body is a request: the body is
    never read as the next request on that connection."""
    o = raw_origin(answer_each)
    hidden = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/smuggled").encode()
    req = (b"POST http://169.254.169.254/x HTTP/1.1\r\nHost: 169.254.169.254\r\n"
           b"Content-Length: %d\r\n\r\n" % len(hidden)) + hidden
    statuses = []
    with magpie.conn(timeout=5) as c:
        c.send(req)
        for _ in range(2):
            try:
                statuses.append(c.read_response(timeout=3).status)
            except (Closed, TimeoutError):
                break
    assert statuses[0] == 403
    assert "/smuggled" not in o.targets()


def test_purge_with_a_body_does_not_run_the_body(magpie_factory, raw_origin):
    m = magpie_factory(admin={"purge_allow": ["127.0.0.0/8"]})
    o = raw_origin(answer_each)
    hidden = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/smuggled").encode()
    req = (b"PURGE %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
           % (o.url("/x").encode(), len(hidden))) + hidden
    with m.conn(timeout=5) as c:
        c.send(req)
        try:
            c.read_response(timeout=3)
            c.read_response(timeout=3)
        except (Closed, TimeoutError):
            pass
    assert "/smuggled" not in o.targets()


# -- hostile client: the target and Host ---------------------------------------

def test_absolute_form_decides_the_host_the_origin_sees(magpie, raw_origin):
    """RFC 9112 §3.2.2: a proxy replaces Host with the target's authority; an
    origin told another host would answer for it under this URI's key."""
    o = raw_origin(answer_each)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: evil.test\r\n\r\n" % o.url("/h").encode())
        assert c.read_response().status == 200
    with o.lock:
        fields = o.requests[0][2]
    assert field(fields, "Host") == "127.0.0.1:%d" % o.port


@pytest.mark.parametrize("target", ["http://evil.test@127.0.0.1:%d/u", "http://127.0.0.1:%d/u#frag"],
                         ids=["userinfo", "fragment"])
def test_userinfo_and_fragment_never_reach_the_origin(magpie, raw_origin, target):
    o = raw_origin(answer_each)
    with magpie.conn() as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (target % o.port).encode())
        r = c.read_response()
    if r.status == 200:
        with o.lock:
            line, fields = o.requests[0][1], o.requests[0][2]
        assert "@" not in field(fields, "Host") and "evil" not in line, (line, fields)
        assert "#" not in line
    else:
        assert r.status == 400 and o.targets() == []


# -- HTTP/1.0 clients ----------------------------------------------------------

def chunked_origin(no, sock, rd):
    while rd.head() is not None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")


def test_http10_keep_alive_client_gets_a_chunked_response_it_can_frame(magpie, raw_origin):
    o = raw_origin(chunked_origin)
    with magpie.conn(timeout=5) as c:
        c.send(b"GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % o.url("/c").encode())
        r = c.read_response(timeout=5)
        assert r.body == b"hello" and r.header("Transfer-Encoding") is None
        if r.close_delimited:
            return
        assert r.header("Content-Length") == "5"



# -- hostile origin -------------------------------------------------------------

FAKE = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=600\r\n\r\nevil"


def scripted(answers):
    """An origin that answers request i (over all connections) with
    answers[i](target), then for the next ones names the target."""
    count = [0]

    def handler(no, sock, rd):
        while True:
            h = rd.head()
            if h is None:
                return
            line, fields = h
            rd.read(int(field(fields, "Content-Length") or 0))
            target = line.split(" ")[1].encode()
            i, count[0] = count[0], count[0] + 1
            if i < len(answers):
                sock.sendall(answers[i](target))
            else:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(target), target))
    return handler


def two_clients(magpie, o, first_method=b"GET"):
    """Client A sends first_method /a, then client B GET /b; both responses."""
    out = []
    for method, path in ((first_method, "/a"), (b"GET", "/b")):
        with magpie.conn(timeout=5) as c:
            c.send(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (method, o.url(path).encode()))
            try:
                out.append(c.read_response(method=method.decode(), timeout=5))
            except Closed:
                out.append(None)
    return out


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" + FAKE,
    b"HTTP/1.1 204 No Content\r\n\r\n" + FAKE,
    b"HTTP/1.1 204 No Content\r\nContent-Length: 40\r\n\r\n" + FAKE,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" + FAKE,
], ids=["longer-than-length", "204-with-body", "204-with-length", "after-chunked"])
def test_bytes_after_a_response_are_never_the_next_response(magpie, raw_origin, answer):
    o = raw_origin(scripted([lambda t: answer]))
    a, b = two_clients(magpie, o)
    assert b is not None and b.status == 200 and b.body == b"/b", b
    # and nothing of it was stored under /b
    with magpie.conn() as c:
        r = c.request("GET", o.url("/b"))
        assert r.body == b"/b"


def test_head_answered_with_a_body_is_not_the_next_response(magpie, raw_origin):
    o = raw_origin(scripted([lambda t: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(FAKE), FAKE)]))
    a, b = two_clients(magpie, o, first_method=b"HEAD")
    assert a.status == 200 and a.body == b""
    assert b is not None and b.status == 200 and b.body == b"/b", b


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nX: a\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\nSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 999 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n" + FAKE,
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n \r\nSet-Cookie: x=1\r\n\r\nhi",
    b"HTTP/1.1 100 Continue\r\nX: 1\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX: 1\n\r\n",
], ids=["cr-in-reason", "cr-in-value", "lf-after-status", "status-2000", "status-999", "length-and-chunked",
        "101-unasked", "fold", "lf-in-interim", "length-2^63", "length-list", "length-twice",
        "lf-in-trailer"])
def test_malformed_response_is_502_and_nothing_injected(magpie, raw_origin, answer):
    o = raw_origin(scripted([lambda t: answer]))
    a, b = two_clients(magpie, o)
    assert a is not None and a.status == 502 and is_error_body(a), a
    assert a.header("Set-Cookie") is None
    assert b.status == 200 and b.body == b"/b"


@pytest.mark.parametrize("reason", [b"O\x0bK", b"O\x0cK", b"O\x1cK"],
                         ids=["vt", "ff", "fs"])
def test_control_bytes_in_the_reason_phrase_are_not_relayed(magpie, raw_origin, reason):
    """Clients that split lines on VT, FF or FS (str.splitlines does) would
    read a field magpie never sent; the reason goes out as magpie's own."""
    o = raw_origin(scripted([lambda t: b"HTTP/1.1 200 %s\r\nContent-Length: 2\r\n"
                             b"Cache-Control: max-age=60\r\n\r\nhi" % reason]))
    for _ in range(2):  # relayed, then from the cache
        with magpie.conn() as c:
            c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/a").encode())
            assert c.wait_for(b"\r\n\r\n")
            line = c.buf.split(b"\r\n", 1)[0]
            assert line == b"HTTP/1.1 200 OK", line
    assert o.targets() == ["/a"]


def test_response_without_reason_phrase_is_relayed(magpie, raw_origin):
    o = raw_origin(scripted([lambda t: b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi"]))
    a, b = two_clients(magpie, o)
    assert a.status == 200 and a.body == b"hi"
    assert b.body == b"/b"


def test_close_delimited_response_keeps_the_client_in_step(magpie, raw_origin):
    def close_delimited(no, sock, rd):
        if rd.head() is not None:
            sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + FAKE)

    o = raw_origin(close_delimited)
    with magpie.conn(timeout=5) as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/a").encode())
        r = c.read_response()
        assert r.body == FAKE and not r.close_delimited
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/b").encode())
        assert c.read_response().body == FAKE


@pytest.mark.time_limit(60)
def test_interim_flood_is_bounded(magpie, raw_origin):
    n = 20000
    flood = b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" * n
    o = raw_origin(scripted([lambda t: flood + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]))
    rss0, _ = magpie.memory()
    with magpie.conn(timeout=30) as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/a").encode())
        r = c.read_response(timeout=30)
    rss1, _ = magpie.memory()
    assert r.status in (200, 502)
    assert rss1 - rss0 < 32 * 1024 * 1024


@pytest.mark.time_limit(90)
def test_response_head_in_many_small_reads_is_relayed_whole(magpie, raw_origin):
    """A head trickled in 4-byte pieces: the scan resumes where the last
    read's stopped (what that saves is for make bench, not a timed test),
    and the head still arrives whole and right."""
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 60000 + b"\r\n"

    def trickle(no, sock, rd):
        if rd.head() is None:
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(head), 4):
            sock.sendall(head[i:i + 4])
            time.sleep(0.0001)
        sock.sendall(b"Content-Length: 2\r\n\r\nok")

    o = raw_origin(trickle)
    with magpie.conn(timeout=60) as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/a").encode())
        r = c.read_response(timeout=60)
        assert r.status == 200 and r.body == b"ok"
        assert r.header("x-pad") == "p" * 60000


# -- Expect, early answers and pipelining -----------------------------------------

def test_final_answer_without_100_then_body_is_not_a_request(magpie, raw_origin):
    """The origin refuses an Expect: 100-continue request from its head; the
    client sends its body anyway: the body is never read as a request."""
    def refuse(no, sock, rd):
        while True:
            h = rd.head()
            if h is None:
                return
            if h[0].startswith("POST"):
                sock.sendall(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
            else:
                target = h[0].split(" ")[1].encode()
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(target), target))

    o = raw_origin(refuse)
    hidden = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/smuggled").encode()
    with magpie.conn(timeout=5) as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % (o.url("/a").encode(), len(hidden)))
        assert c.read_response().status == 417
        c.send(hidden)
        try:
            r = c.read_response(timeout=2)
            assert r.body != b"/smuggled"
        except (Closed, TimeoutError):
            pass
    time.sleep(0.2)
    assert "/smuggled" not in o.targets()


def test_100_then_final_relays_both_in_order(magpie, raw_origin):
    def hundred(no, sock, rd):
        h = rd.head()
        if h is None:
            return
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        rd.read(int(field(h[1], "Content-Length")))
        sock.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")

    o = raw_origin(hundred)
    with magpie.conn(timeout=5) as c:
        c.send(b"PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
               b"Content-Length: 5\r\n\r\n" % o.url("/a").encode())
        assert c.wait_for(b"100 Continue")
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 201 and r.body == b"ok"


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_pipelined_after_a_body_larger_than_the_buffer(magpie, raw_origin, chunked):
    o = raw_origin(answer_each)
    body = b"x" * 200000
    if chunked:
        req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               % o.url("/big").encode()) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        req = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
               % (o.url("/big").encode(), len(body))) + body
    statuses, targets = send_then_next(magpie, o, req)
    assert statuses == [(200, b"/big"), (200, b"/next")]
    assert targets == ["/big", "/next"]


def test_early_answer_to_a_large_body_is_not_pooled_mid_body(magpie, raw_origin):
    """The origin answers a 200 KB POST from its head and reads on: the next
    client's request never lands inside the rest of that body."""
    o = raw_origin(answer_then_discard_slowly)
    body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" * 6000
    with magpie.conn(timeout=10) as a:
        a.send(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
               % (o.url("/a").encode(), len(body)) + body)
        assert a.read_response().body == b"/a"
        with magpie.conn(timeout=10) as b:
            b.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/b").encode())
            assert b.read_response().body == b"/b"
    assert "/smuggled" not in o.targets()


def answer_then_discard_slowly(no, sock, rd):
    while True:
        h = rd.head()
        if h is None:
            return
        line, fields = h
        body = line.split(" ")[1].encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        n = int(field(fields, "Content-Length") or 0)
        got = 0
        while got < n:
            d = rd.read(min(4096, n - got))
            if not d:
                return
            got += len(d)


def test_late_bytes_on_an_idle_pooled_connection_are_never_a_response(magpie, raw_origin):
    def late(no, sock, rd):
        first = True
        while True:
            h = rd.head()
            if h is None:
                return
            target = h[0].split(" ")[1].encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(target), target))
            if first:
                first = False
                time.sleep(0.1)
                sock.sendall(FAKE)

    o = raw_origin(late)
    with magpie.conn() as c:
        assert c.request("GET", o.url("/a")).body == b"/a"
    time.sleep(0.5)
    with magpie.conn() as c:
        r = c.request("GET", o.url("/b"))
        assert r.body == b"/b", r


def test_local_answer_keeps_a_bodiless_connection_in_step(magpie, raw_origin):
    """A 403 answered from the head of a bodiless request keeps the
    connection; the pipelined request after it is the next one, whole."""
    o = raw_origin(answer_each)
    with magpie.conn(timeout=5) as c:
        c.send(b"GET http://169.254.169.254/x HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"
               b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/next").encode())
        assert c.read_response().status == 403
        assert c.read_response().body == b"/next"
    assert o.targets() == ["/next"]


def test_refused_websocket_upgrade_opens_no_tunnel(magpie, raw_origin):
    """The origin answers a WebSocket upgrade with 426: what the client sends
    next is parsed by magpie as a request, never passed raw to the origin
    (a tunnel opened without a 101 would bypass every check of magpie's)."""
    raw = []

    def refuse_upgrade(no, sock, rd):
        while True:
            h = rd.head()
            if h is None:
                return
            raw.append(h)
            if field(h[1], "Upgrade"):
                sock.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
            else:
                t = h[0].split(" ")[1].encode()
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(t), t))

    o = raw_origin(refuse_upgrade)
    with magpie.conn(timeout=5) as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n"
               % o.url("/ws").encode())
        assert c.read_response().status == 426
        c.send(b"GET /internal HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n")
        try:
            r = c.read_response(timeout=3)
            assert r.body != b"/internal"
        except (Closed, TimeoutError):
            pass
    assert "/internal" not in o.targets()


def test_bare_lf_head_after_a_chunked_body_is_400(magpie, raw_origin):
    o = raw_origin(answer_each)
    with magpie.conn(timeout=5) as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\nHost: 127.0.0.1\n\n"
               % o.url("/post").encode())
        assert c.read_response().body == b"/post"
        assert c.read_response().status == 400
        assert c.closed_by_peer()
    assert o.targets() == ["/post"]


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"], ids=["204", "304"])
def test_no_body_status_never_goes_out_with_framing_fields(magpie, raw_origin, status):
    """A 204 or 304 the origin sent with Transfer-Encoding: chunked goes out
    without it: a client reading a chunked body there would take the next
    response for it."""
    o = raw_origin(scripted([lambda t: b"HTTP/1.1 %s\r\nTransfer-Encoding: chunked\r\n"
                             b"ETag: \"e\"\r\n\r\n" % status]))
    with magpie.conn(timeout=5) as c:
        c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: \"e\"\r\n\r\n"
               % o.url("/a").encode())
        assert c.wait_for(b"\r\n\r\n")
        head = c.buf.split(b"\r\n\r\n", 1)[0].lower()
        assert b"transfer-encoding" not in head and b"content-length" not in head, head


@pytest.mark.time_limit(60)
def test_head_full_of_connection_options_is_refused(magpie, raw_origin):
    """250 Connection lines of 48 options each: every field was matched
    against every line. The options are now split once and bounded: past
    64 the head is refused with 400, while the same head with another
    field name is served."""
    o = raw_origin(answer_each)
    opts = ",".join("x%03d" % i for i in range(48)).encode()

    def status_of(name):
        head = (b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % o.url("/a").encode()
                + b"".join(b"%s: %s\r\n" % (name, opts) for _ in range(250)) + b"\r\n")
        with magpie.conn(timeout=30) as c:
            c.send(head)
            return c.read_response(timeout=30).status

    assert status_of(b"X-Other") == 200
    assert status_of(b"Connection") == 400


@pytest.mark.time_limit(60)
def test_body_of_one_byte_chunks_is_relayed_and_stored_whole(magpie, raw_origin):
    """A cacheable 300 KB body in one-byte chunks (1.8 MB on the wire): the
    chunks are gathered before the relay and the store (unit
    test_reader_small_chunks_gathered counts the calls), and the body is
    relayed, stored and served whole."""
    body = b"".join(b"1\r\n%c\r\n" % (97 + i % 26) for i in range(300000)) + b"0\r\n\r\n"
    want = bytes(97 + i % 26 for i in range(300000))
    o = raw_origin(scripted([lambda t: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             b"Cache-Control: max-age=60\r\n\r\n" + body]))
    with magpie.conn(timeout=30) as c:
        r = c.request("GET", o.url("/a"))
        assert r.status == 200 and r.body == want
    with magpie.conn(timeout=30) as c:
        r = c.request("GET", o.url("/a"))
        assert r.body == want and o.targets() == ["/a"]
        assert r.header("x-cache") == "HIT"
