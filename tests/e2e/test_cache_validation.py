"""Stale responses: revalidation with the stored validators (a 304
refreshes the entry without sending the body again), and stale-if-error
(RFC 5861) when the origin answers 5xx or cannot be reached."""

import http.server
import threading
import time

import pytest

from rawhttp import fetch


class ValidatingOrigin:
    """An origin whose answers can be steered: it serves one ETag'd body,
    answers 304 to a matching If-None-Match, or fails with a chosen status.
    It records every request it gets."""

    def __init__(self, cache_control, close=False):
        self.cache_control = cache_control
        self.close = close
        self.fail_status = None
        self.requests = []
        self.body = b"the stored body\n"
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def end_headers(self):
                if origin.close:
                    # no keep-alive: once stopped, the origin is really gone
                    self.send_header("Connection", "close")
                    self.close_connection = True
                super().end_headers()

            def do_GET(self):
                origin.requests.append(dict(self.headers))
                if origin.fail_status:
                    body = b"failing\n"
                    self.send_response(origin.fail_status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.headers.get("If-None-Match") == '"v1"':
                    self.send_response(304)
                    self.send_header("ETag", '"v1"')
                    self.send_header("Cache-Control", origin.cache_control)
                    self.send_header("X-Refreshed", str(len(origin.requests)))
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", '"v1"')
                self.send_header("Cache-Control", origin.cache_control)
                self.send_header("Content-Length", str(len(origin.body)))
                self.end_headers()
                self.wfile.write(origin.body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None


@pytest.fixture
def vorigin():
    made = []

    def make(cache_control, close=False):
        o = ValidatingOrigin(cache_control, close)
        made.append(o)
        return o

    yield make
    for o in made:
        o.stop()


def test_stale_entry_is_revalidated_with_its_etag(magpie, vorigin):
    o = vorigin("max-age=1")
    url = o.url("/doc")
    r1 = fetch(magpie.port, "GET", url)
    assert r1.status == 200 and r1.header("x-cache") == "MISS"
    time.sleep(1.3)
    r2 = fetch(magpie.port, "GET", url)
    assert r2.status == 200 and r2.body == o.body
    assert r2.header("x-cache") == "REVALIDATED"
    # the refreshed copy: max-age=1 from now on
    left = 1 - int(r2.header("age"))
    assert r2.header("cache-status") in ("magpie; fwd=stale; fwd-status=304; ttl=%d" % n
                                         for n in (left, left - 1)), r2.header("cache-status")
    assert o.requests[1].get("If-None-Match") == '"v1"'
    assert r2.header("x-refreshed") == "2", "the 304's headers refresh the stored ones"
    r3 = fetch(magpie.port, "GET", url)
    assert r3.header("x-cache") == "HIT", "the 304 made the entry fresh again"
    assert len(o.requests) == 2


def test_client_conditional_on_a_stale_entry_is_forwarded(magpie, vorigin):
    o = vorigin("max-age=1")
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    r = fetch(magpie.port, "GET", url, headers=[("If-None-Match", '"v1"')])
    assert r.status == 304


def test_stale_if_error_serves_stale_on_5xx(magpie, vorigin):
    o = vorigin("max-age=1, stale-if-error=60")
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    o.fail_status = 503
    r = fetch(magpie.port, "GET", url)
    assert r.status == 200 and r.body == o.body
    assert r.header("x-cache") == "STALE"
    assert "fwd-status=503" in r.header("cache-status")


def test_stale_if_error_serves_stale_when_the_origin_is_down(magpie, vorigin):
    o = vorigin("max-age=1, stale-if-error=60", close=True)
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    o.stop()
    r = fetch(magpie.port, "GET", url)
    assert r.status == 200 and r.body == o.body
    assert r.header("x-cache") == "STALE"


def test_without_stale_if_error_the_failure_shows(magpie, vorigin):
    o = vorigin("max-age=1")
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    o.fail_status = 503
    r = fetch(magpie.port, "GET", url)
    assert r.status == 503


def test_must_revalidate_never_serves_stale_on_error(magpie, vorigin):
    o = vorigin("max-age=1, must-revalidate, stale-if-error=60")
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    o.fail_status = 500
    r = fetch(magpie.port, "GET", url)
    assert r.status == 500


def test_stale_while_revalidate_serves_stale_and_refreshes_in_the_background(magpie, vorigin):
    o = vorigin("max-age=1, stale-while-revalidate=30")
    url = o.url("/doc")
    fetch(magpie.port, "GET", url)
    time.sleep(1.3)
    # the refresh's 304 keeps the entry fresh long enough to be seen as a hit
    # however slowly this machine runs
    o.cache_control = "max-age=60, stale-while-revalidate=30"
    r = fetch(magpie.port, "GET", url)
    assert r.status == 200 and r.body == o.body
    assert r.header("x-cache") == "STALE"
    assert "stale-while-revalidate" in r.header("cache-status")
    deadline = time.monotonic() + 5
    while len(o.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(o.requests) == 2, "no background refresh reached the origin"
    assert o.requests[1].get("If-None-Match") == '"v1"'
    # while the refresh finishes, stale answers go on without new refreshes
    deadline = time.monotonic() + 5
    while fetch(magpie.port, "GET", url).header("x-cache") != "HIT":
        assert time.monotonic() < deadline, "the refresh never made the entry fresh again"
        time.sleep(0.05)
    assert len(o.requests) == 2
