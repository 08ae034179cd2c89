"""
test_pipeline_attacks.py - the exchange path attacked as a hostile client or
origin would: exchanges that end from inside a writer or a chain callback
(pipelined requests after hits, 304s, HEAD, 416, followers, a leader
behind its fetch), responses whose last bytes must still go out to a slow
reader, the order and framing of what is written, what the access log
counts, background refreshes and fetches that outlive their client, and
the order of the request hooks.
"""

import socket
import threading
import time
import urllib.parse

import pytest

from conftest import poll
from origin import pattern
from rawhttp import Closed, build_request, fetch
from test_stalls import StallOrigin, read_head, small_conn

CC60 = "public, max-age=60"


class AttackOrigin(StallOrigin):
    """StallOrigin, plus a cacheable body that comes late."""

    def _h_late(self, req, n):
        """N bytes of pattern(), Content-Length, cacheable with an ETag,
        after ?delay= seconds."""
        n = int(n)
        q = urllib.parse.parse_qs(req.query)
        delay = float(q.get("delay", ["0"])[0])
        req.drain()
        if delay and self._stopping.wait(delay):
            return False
        self.send_head(req, 200, [("Content-Type", "application/octet-stream"),
                                  ("Cache-Control", CC60), ("ETag", '"e%d"' % n)], length=n)
        if req.method != "HEAD" and n:
            req.conn.sendall(pattern(n))
        return True


@pytest.fixture
def origin():
    o = AttackOrigin()
    yield o
    o.stop()


def alive(m):
    assert m.alive(), m.exit_message(m.proc.poll())


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:  # reported by the caller
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _result(t, out):
    t.join(20)
    assert not t.is_alive(), "no answer in time"
    if "e" in out:
        raise out["e"]
    return out["r"]


# -- followers answered as the leader's head arrives --------------------------

@pytest.mark.parametrize("n, headers, status", [
    (0, [], 200),                                   # nothing to send after the head
    (5000, [("If-None-Match", '"e5000"')], 304),    # the client has it
    (5000, [("Range", "bytes=9000-")], 416),        # nothing of it is wanted
])
def test_follower_answered_by_the_head_alone(magpie, origin, n, headers, status):
    url = origin.url("/late/%d?delay=0.6" % n)
    lead = _in_thread(lambda: fetch(magpie.port, "GET", url, timeout=10))
    poll(lambda: origin.request_count() == 1)
    time.sleep(0.1)
    with magpie.conn() as c:
        c.send(build_request("GET", url, headers=headers))
        r = c.read_response()
        assert r.status == status, r
        assert r.body == b""
        assert "collapsed" in (r.header("cache-status") or ""), r
        # the connection goes on
        r2 = c.request("GET", origin.url("/bytes/10"))
        assert r2.status == 200 and r2.body == pattern(10)
    r0 = _result(*lead)
    assert r0.status == 200 and r0.body == pattern(n)
    assert origin.request_count() == 2
    alive(magpie)
