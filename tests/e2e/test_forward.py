"""Forward proxying: absolute-URI requests of any method, bodies both ways,
framing conversions, keep-alive and pipelining."""

import hashlib
import json
import os
import socket
import threading
import time

import pytest

from conftest import poll
from origin import pattern, pattern_iter, pattern_sha256
from rawhttp import build_request, chunked, fetch

VIA = "1.1 magpie-test"
MiB = 1024 * 1024


def echo(r):
    assert r.status == 200, r
    return json.loads(r.body)


def test_get_is_forwarded_in_origin_form(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/bytes/1000"))
    assert r.status == 200
    assert r.body == pattern(1000)
    assert r.header("x-response-number") == "1"
    assert VIA in r.tokens("via")
    assert [q.target for q in origin.requests] == ["/bytes/1000"]


def test_query_string_is_kept(magpie, origin):
    doc = echo(fetch(magpie.port, "GET", origin.url("/echo?a=1&b=two%20words")))
    assert doc["target"] == "/echo?a=1&b=two%20words"


def test_head_has_no_body_and_connection_stays_usable(magpie, origin):
    with magpie.conn() as c:
        r = c.request("HEAD", origin.url("/bytes/1000"))
        assert r.status == 200
        assert r.header("content-length") == "1000"
        r2 = c.request("GET", origin.url("/bytes/10"))
        assert r2.status == 200 and r2.body == pattern(10)
    assert [q.method for q in origin.requests] == ["HEAD", "GET"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_body_with_content_length_reaches_origin(magpie, origin, method):
    body = b"x" * 100000 + b"end"
    doc = echo(fetch(magpie.port, method, origin.url("/echo"), body=body))
    assert doc["method"] == method
    assert doc["body_length"] == len(body)
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_request_body_reaches_origin(magpie, origin):
    pieces = [b"first,", b"second," * 1000, b"third"]
    with magpie.conn() as c:
        c.send(build_request("POST", origin.url("/echo"),
                             headers=[("Transfer-Encoding", "chunked")]) + chunked(pieces))
        doc = echo(c.read_response())
    whole = b"".join(pieces)
    assert doc["body_length"] == len(whole)
    assert doc["body_sha256"] == hashlib.sha256(whole).hexdigest()


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_any_method_is_forwarded(magpie, origin, method):
    doc = echo(fetch(magpie.port, method, origin.url("/echo"), body=b"payload"))
    assert doc["method"] == method
    assert doc["body"] == "payload"


def test_origin_status_is_passed_through(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/status/503"))
    assert r.status == 503
    assert r.body == b"status 503\n"


def test_204_from_origin_has_no_body(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/status/204"))
        assert r.status == 204 and r.body == b""
        assert c.request("GET", origin.url("/bytes/5")).body == pattern(5)


def test_download_10mib(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/bytes/%d" % (10 * MiB)), timeout=30)
    assert r.status == 200 and r.complete
    assert len(r.body) == 10 * MiB
    assert hashlib.sha256(r.body).hexdigest() == pattern_sha256(10 * MiB)


# Small ASan quarantine, so that freed buffers do not count as growth.
LOW_QUARANTINE = {"ASAN_OPTIONS": ":".join(
    filter(None, [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=1"]))}


def test_10mib_chunked_upload_is_streamed(magpie_factory, origin):
    magpie = magpie_factory(env=LOW_QUARANTINE)
    piece = pattern(64 * 1024)
    # Warm-up, so buffers allocated lazily are in the baseline.
    with magpie.conn() as c:
        c.send(build_request("POST", origin.url("/echo"),
                             headers=[("Transfer-Encoding", "chunked")]) + chunked([piece] * 4))
        echo(c.read_response())
    rss0, hwm0 = magpie.memory()
    samples = []
    with magpie.conn(timeout=30) as c:
        c.send(build_request("POST", origin.url("/echo"),
                             headers=[("Transfer-Encoding", "chunked")]))
        for i in range(160):  # 10 MiB over about two seconds
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.012)
            if i % 8 == 0:
                samples.append(magpie.memory()[0])
        in_flight = origin.request_count()
        c.send(b"0\r\n\r\n")
        doc = echo(c.read_response(timeout=30))
    rss1, hwm1 = magpie.memory()
    assert in_flight == 2, "the upload did not reach the origin while it was being sent"
    assert doc["body_length"] == 10 * MiB
    assert doc["body_sha256"] == pattern_sha256(10 * MiB)
    growth = max(samples + [rss1]) - rss0
    assert growth < 5 * MiB, "RSS grew by %.1f MiB during a 10 MiB upload" % (growth / MiB)
    assert hwm1 - hwm0 < 5 * MiB, "peak RSS grew by %.1f MiB" % ((hwm1 - hwm0) / MiB)


def test_10mib_download_to_slow_reader_is_streamed(magpie_factory, origin):
    magpie = magpie_factory(env=LOW_QUARANTINE)
    fetch(magpie.port, "GET", origin.url("/bytes/300000"))  # warm-up
    rss0, hwm0 = magpie.memory()
    samples = []
    got = 0
    h = hashlib.sha256()
    with magpie.conn(timeout=30) as c:
        c.send(build_request("GET", origin.url("/bytes/%d" % (10 * MiB))))
        deadline = time.monotonic() + 30
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.sock.recv(65536)
            assert chunk, "closed inside the head"
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200")
        h.update(body)
        got = len(body)
        reads = 0
        while got < 10 * MiB and time.monotonic() < deadline:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
            reads += 1
            if reads % 10 == 0:
                samples.append(magpie.memory()[0])
                time.sleep(0.02)
    rss1, hwm1 = magpie.memory()
    assert got == 10 * MiB
    assert h.hexdigest() == pattern_sha256(10 * MiB)
    growth = max(samples + [rss1]) - rss0
    assert growth < 5 * MiB, "RSS grew by %.1f MiB during a 10 MiB download" % (growth / MiB)
    assert hwm1 - hwm0 < 5 * MiB, "peak RSS grew by %.1f MiB" % ((hwm1 - hwm0) / MiB)


def test_chunked_response_stays_chunked_for_http11(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/chunked/20000?chunk=3000"))
    assert r.status == 200
    assert r.chunked and r.complete
    assert r.body == pattern(20000)


def test_chunked_response_is_dechunked_for_http10(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/chunked/20000"), version="HTTP/1.0")
        assert r.status == 200
        assert "chunked" not in r.tokens("transfer-encoding")
        assert r.body == pattern(20000)
        assert c.closed_by_peer() or r.header("content-length") == "20000"


def test_unframed_response_is_rechunked_for_http11(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/nolength/30000"))
        assert r.status == 200
        assert r.chunked and r.complete, "expected a chunked response with its last chunk"
        assert r.body == pattern(30000)


def test_unframed_response_is_close_delimited_for_http10(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/nolength/30000"), version="HTTP/1.0")
        assert r.status == 200
        assert r.close_delimited
        assert r.body == pattern(30000)


def test_keepalive_serves_two_requests_on_one_connection(magpie, origin):
    with magpie.conn() as c:
        r1 = c.request("GET", origin.url("/bytes/100"))
        r2 = c.request("GET", origin.url("/echo"))
        assert r1.status == 200 and r1.body == pattern(100)
        assert echo(r2)["path"] == "/echo"
        assert r1.header("x-response-number") == "1"
        assert r2.header("x-response-number") == "2"
        assert not c.closed_by_peer(0.3), "keep-alive connection closed after two requests"


def test_http10_keepalive_is_honoured(magpie, origin):
    with magpie.conn() as c:
        r1 = c.request("GET", origin.url("/bytes/100"), version="HTTP/1.0",
                       headers=[("Connection", "keep-alive")])
        assert r1.status == 200 and r1.body == pattern(100)
        if "keep-alive" in r1.tokens("connection"):
            r2 = c.request("GET", origin.url("/bytes/7"), version="HTTP/1.0")
            assert r2.body == pattern(7)
        else:
            assert c.closed_by_peer()


def test_http10_request_without_keepalive_is_closed_after_response(magpie, origin):
    with magpie.conn() as c:
        r = c.request("GET", origin.url("/bytes/100"), version="HTTP/1.0")
        assert r.status == 200 and r.body == pattern(100)
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert c.closed_by_peer(), "HTTP/1.0 connection without keep-alive left open"


def test_pipelined_requests_are_answered_in_order(magpie, origin):
    reqs = (build_request("GET", origin.url("/slow/0.5"))
            + build_request("GET", origin.url("/bytes/10"))
            + build_request("POST", origin.url("/echo?third"), body=b"3"))
    with magpie.conn() as c:
        c.send(reqs)  # one write
        r1, r2, r3 = (c.read_response() for _ in range(3))
    assert r1.status == 200 and r1.body == b"slow\n"
    assert r2.status == 200 and r2.body == pattern(10)
    doc = echo(r3)
    assert doc["query"] == "third" and doc["body"] == "3"


def test_client_closing_early_does_not_disturb_others(magpie, origin):
    with magpie.conn() as c:
        c.send(build_request("GET", origin.url("/bytes/%d" % (4 * MiB))))
        c.sock.recv(1000)
    r = fetch(magpie.port, "GET", origin.url("/bytes/1000"))
    assert r.status == 200 and r.body == pattern(1000)


def test_concurrent_slow_and_fast_requests_do_not_block_each_other(magpie, origin):
    slow = {}

    def run():
        slow["r"] = fetch(magpie.port, "GET", origin.url("/slow/1.5"))

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.2)
    start = time.monotonic()
    r = fetch(magpie.port, "GET", origin.url("/bytes/10"))
    fast = time.monotonic() - start
    t.join(10)
    assert r.status == 200
    assert fast < 1.0, "a fast request waited %.1f s behind a slow one" % fast
    assert slow["r"].status == 200 and slow["r"].body == b"slow\n"


def test_10mib_content_length_upload(magpie, origin):
    with magpie.conn(timeout=30) as c:
        c.send(build_request("PUT", origin.url("/echo"),
                             headers=[("Content-Length", str(10 * MiB))]))
        for piece in pattern_iter(10 * MiB):
            c.send(piece)
        doc = echo(c.read_response(timeout=30))
    assert doc["body_length"] == 10 * MiB
    assert doc["body_sha256"] == pattern_sha256(10 * MiB)


def test_client_aborting_upload_does_not_disturb_others(magpie, origin):
    with magpie.conn() as c:
        c.send(build_request("POST", origin.url("/echo"),
                             headers=[("Transfer-Encoding", "chunked")]))
        # past the 64 KiB read before an origin connection is taken
        c.send(b"20000\r\n" + pattern(100000))
        assert poll(lambda: origin.request_count() == 1)
    r = fetch(magpie.port, "GET", origin.url("/bytes/1000"))
    assert r.status == 200 and r.body == pattern(1000)


def test_client_leaving_while_origin_is_slow_does_not_disturb_others(magpie, origin):
    with magpie.conn() as c:
        c.send(build_request("GET", origin.url("/slow/1")))
        assert poll(lambda: origin.request_count() == 1)
    time.sleep(1.2)  # the origin answers a client that is gone
    r = fetch(magpie.port, "GET", origin.url("/bytes/1000"))
    assert r.status == 200 and r.body == pattern(1000)



def test_interim_100_continue_is_relayed_before_the_final_response(magpie):
    """An origin that answers Expect: 100-continue with an interim 100: the
    client sees the 100 head (a complete head, blank line included), then
    the final response, on the same connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    got = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            got["head"] = data
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = data.split(b"\r\n\r\n", 1)[1]
            while len(body) < 5:
                body += conn.recv(4096)
            got["body"] = body
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with magpie.conn() as c:
            c.send(b"POST http://127.0.0.1:%d/up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\n" % port)
            assert c.wait_for(b"\r\n\r\n"), "no interim response"
            assert c.buf.startswith(b"HTTP/1.1 100 "), c.buf
            c.send(b"hello")
            assert c.wait_for(b"ok"), c.buf
            final = c.buf.split(b"\r\n\r\n", 1)[1]
            assert final.startswith(b"HTTP/1.1 200 "), c.buf
    finally:
        t.join(5)
        srv.close()
    assert got["body"] == b"hello"
    assert b"expect: 100-continue" in got["head"].lower()
