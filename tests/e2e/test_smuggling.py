"""Request smuggling, response splitting and desynchronisation, tried as a
hostile client and as a hostile origin: whatever the bytes, one request in
is at most one request out, every response goes to the request it answers,
and nothing the origin did not send as a response is relayed or stored as
one."""

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
    assert [s for s, _ in statuses] == [400], statuses
    assert targets == []


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
                                  b"Content-Length\t: 5", b"Transfer-Encoding : chunked"],
                         ids=["empty-name", "nul-in-name", "high-bit-name", "vt-in-name",
                              "bare-cr-value", "nul-value", "tab-before-colon",
                              "space-before-colon"])
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
