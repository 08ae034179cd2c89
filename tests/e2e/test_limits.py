"""Connection limits and client timeouts."""

import resource
import time

from conftest import poll
from rawhttp import build_request, fetch

TOO_MANY = b"magpie: too many connections\n"


def test_connection_over_max_connections_gets_503(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_connections": 2})
    time.sleep(0.2)  # let magpie see the readiness probe go away
    with magpie.conn() as a, magpie.conn() as b:
        assert a.request("GET", origin.url("/bytes/1")).status == 200
        assert b.request("GET", origin.url("/bytes/1")).status == 200
        with magpie.conn() as c:
            c.send(build_request("GET", origin.url("/bytes/1")))
            r = c.read_response(timeout=3)
            assert r.status == 503
            assert r.body == TOO_MANY
            assert (r.header("content-type") or "").startswith("text/plain")
            assert c.closed_by_peer()
        # the two served connections still work
        assert a.request("GET", origin.url("/bytes/2")).status == 200
    assert origin.request_count() == 3


def test_max_connections_frees_slots_when_clients_leave(magpie_factory, origin):
    magpie = magpie_factory(limits={"max_connections": 1})
    time.sleep(0.2)
    with magpie.conn() as a:
        assert a.request("GET", origin.url("/bytes/1")).status == 200
    ok = poll(lambda: fetch(magpie.port, "GET", origin.url("/bytes/1")).status == 200)
    assert ok, "a slot was not freed after its client left"


def test_incomplete_head_is_closed_after_client_header_timeout(magpie_factory, origin):
    magpie = magpie_factory(limits={"client_header_timeout": "1s"})
    with magpie.conn() as c:
        c.send(("GET %s HTTP/1.1\r\nHost: x\r\n" % origin.url("/bytes/1")).encode())
        start = time.monotonic()
        data = c.read_all(timeout=5)
        took = time.monotonic() - start
    assert data == b"" or data.startswith(b"HTTP/1.1 408 ") or data.startswith(b"HTTP/1.0 408 "), data
    assert 0.8 <= took < 4, "closed after %.2f s with client_header_timeout 1s" % took
    assert origin.request_count() == 0


def test_head_trickled_slowly_is_cut_at_client_header_timeout(magpie_factory, origin):
    magpie = magpie_factory(limits={"client_header_timeout": "1s"})
    head = ("GET %s HTTP/1.1\r\nHost: x\r\n" % origin.url("/bytes/1")).encode() + b"X-A: b\r\n" * 30
    with magpie.conn() as c:
        start = time.monotonic()
        closed_after = None
        for i in range(0, len(head), 8):  # 8 bytes every 0.1 s: never idle, never done
            if not c.send(head[i:i + 8]):
                closed_after = time.monotonic() - start
                break
            time.sleep(0.1)
            if time.monotonic() - start > 4:
                break
        if closed_after is None:
            try:
                c.read_all(timeout=0.5)
                closed_after = time.monotonic() - start
            except TimeoutError:
                pass
    assert closed_after is not None, "a trickling client kept its connection for 4 s"
    assert closed_after < 3


def test_idle_keepalive_connection_is_closed_after_client_idle_timeout(magpie_factory, origin):
    magpie = magpie_factory(limits={"client_idle_timeout": "1s"})
    with magpie.conn() as c:
        assert c.request("GET", origin.url("/bytes/1")).status == 200
        start = time.monotonic()
        assert c.closed_by_peer(4), "idle connection not closed within 4 s"
        took = time.monotonic() - start
    assert took >= 0.8, "idle connection closed after only %.2f s" % took


def test_active_keepalive_connection_outlives_client_idle_timeout(magpie_factory, origin):
    magpie = magpie_factory(limits={"client_idle_timeout": "1s"})
    with magpie.conn() as c:
        for _ in range(4):  # 2 s in all, never idle for 1 s
            assert c.request("GET", origin.url("/bytes/1")).status == 200
            time.sleep(0.5)


def test_slow_origin_is_not_cut_by_client_idle_timeout(magpie_factory, origin):
    magpie = magpie_factory(limits={"client_idle_timeout": "1s"})
    r = fetch(magpie.port, "GET", origin.url("/slow/1.5"))
    assert r.status == 200 and r.body == b"slow\n"


def open_file_limits(pid):
    """(soft, hard) of a process's open file limit, from /proc."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no open file limit for pid %d" % pid)


def test_open_file_limit_is_raised_for_max_connections(magpie_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # magpie inherits 256
    try:
        m = magpie_factory(limits={"max_connections": 1000})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert open_file_limits(m.pid) == (min(2256, hard), hard)  # 2 per connection + 256


def test_open_file_limit_below_max_connections_is_logged(magpie_factory):
    m = magpie_factory(limits={"max_connections": 1000000})
    _, hard = open_file_limits(m.pid)
    assert open_file_limits(m.pid)[0] == min(hard, 2000256)
    if hard < 2000256:
        m.wait_error_log(r"\[warn\] open file limit %d is below the 2000256 that "
                         r"limits.max_connections 1000000 may need" % hard)
