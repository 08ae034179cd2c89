"""Signals: USR1 reopens the logs, HUP reloads the config (or keeps the old
one when the new one is invalid), TERM drains in-flight requests and exits 0."""

import re
import signal
import socket
import time

from conftest import poll
from origin import pattern
from rawhttp import Closed, build_request, fetch


# -- USR1 ------------------------------------------------------------------------

def test_usr1_reopens_access_log(magpie, origin):
    fetch(magpie.port, "GET", origin.url("/bytes/1?before"))
    magpie.wait_access_line(lambda l: "?before" in l)
    rotated = magpie.access_log_path.with_name("access.log.1")
    magpie.access_log_path.rename(rotated)
    magpie.signal(signal.SIGUSR1)
    tags = iter(range(1000))

    def new_file_has_a_line():
        tag = "?after%d" % next(tags)
        fetch(magpie.port, "GET", origin.url("/bytes/1" + tag))
        time.sleep(0.05)
        return tag if any(tag in l for l in magpie.access_log_lines()) else None

    tag = poll(new_file_has_a_line)
    assert tag, "no new access.log written after SIGUSR1"
    old = rotated.read_text()
    assert "?before" in old
    assert tag not in old


def test_usr1_reopens_error_log(magpie, origin):
    with magpie.conn() as c:
        c.send(b"GARBAGE\r\n\r\n")
        assert c.read_response().status == 400
    magpie.wait_error_log(r"\S")
    rotated = magpie.error_log_path.with_name("error.log.1")
    magpie.error_log_path.rename(rotated)
    magpie.signal(signal.SIGUSR1)

    def new_file_has_content():
        with magpie.conn() as c:
            c.send(b"GARBAGE\r\n\r\n")
            c.read_response()
        return magpie.error_log_path.exists() and magpie.error_log_text().strip()

    assert poll(new_file_has_content), "no new error.log written after SIGUSR1"
    assert rotated.read_text().strip()


# -- HUP -----------------------------------------------------------------------------

def test_hup_applies_new_acl_to_new_connections(magpie, origin):
    assert fetch(magpie.port, "GET", origin.url("/bytes/1")).status == 200
    magpie.write_config({"acl": {"allow": ["10.0.0.0/8"]}})
    magpie.signal(signal.SIGHUP)
    status = poll(lambda: fetch(magpie.port, "GET", origin.url("/bytes/1")).status == 403)
    assert status, "requests still allowed after reloading a config that denies them"


def test_hup_adds_a_route(magpie_factory, origin):
    magpie = magpie_factory(routes=None)
    assert fetch(magpie.port, "GET", "/bytes/2", host="api.local").status == 400
    magpie.write_config({})  # the default config routes api.local
    magpie.signal(signal.SIGHUP)
    ok = poll(lambda: fetch(magpie.port, "GET", "/bytes/2", host="api.local").status == 200)
    assert ok, "route added by reload not used"


def test_hup_keeps_old_config_for_existing_connections(magpie, origin):
    with magpie.conn() as c:
        assert c.request("GET", origin.url("/bytes/1")).status == 200
        magpie.write_config({"acl": {"allow": ["10.0.0.0/8"]}})
        magpie.signal(signal.SIGHUP)
        assert poll(lambda: fetch(magpie.port, "GET", origin.url("/bytes/1")).status == 403)
        r = c.request("GET", origin.url("/bytes/3"))
        assert r.status == 200 and r.body == pattern(3)


def test_hup_with_invalid_config_keeps_old_one(magpie, origin):
    text = magpie.config_path.read_text()
    bad = text + "bogus_key: 1\n"
    line = bad.count("\n")
    magpie.write_config_text(bad)
    magpie.signal(signal.SIGHUP)
    where = re.escape("%s:%d:1" % (magpie.config_path, line))
    magpie.wait_error_log(r"^(?=.*(?i:reload))(?=.*%s\b).*$" % where)
    assert magpie.alive()
    r = fetch(magpie.port, "GET", origin.url("/bytes/4"))
    assert r.status == 200 and r.body == pattern(4)
    assert fetch(magpie.port, "GET", "/bytes/5", host="api.local").status == 200


def test_hup_with_invalid_value_keeps_listening(magpie, origin):
    magpie.write_config({"limits": {"max_connections": "lots"}})
    magpie.signal(signal.SIGHUP)
    magpie.wait_error_log(r"(?i)reload.*%s:\d+:\d+" % re.escape(str(magpie.config_path)))
    assert fetch(magpie.port, "GET", origin.url("/bytes/1")).status == 200


# -- TERM ---------------------------------------------------------------------------------

def test_sigterm_lets_in_flight_response_finish(magpie_factory, origin):
    magpie = magpie_factory(limits={"shutdown_timeout": "5s"})
    with magpie.conn(timeout=15) as c:
        c.send(build_request("GET", origin.url("/drip/100000/2")))
        assert c.wait_for(b"\r\n\r\n"), "no response head"
        magpie.signal(signal.SIGTERM)
        r = c.read_response()
    assert r.status == 200 and r.complete
    assert r.body == pattern(100000)
    rc = magpie.expect_exit(10)
    assert rc == 0, magpie.exit_message(rc)


def test_sigterm_stops_accepting_new_connections(magpie_factory, origin):
    magpie = magpie_factory(limits={"shutdown_timeout": "5s"})
    with magpie.conn(timeout=15) as c:
        c.send(build_request("GET", origin.url("/drip/100000/2")))
        assert c.wait_for(b"\r\n\r\n")
        magpie.signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            with magpie.conn(timeout=1.0) as late:
                late.send(build_request("GET", origin.url("/bytes/1")))
                try:
                    r = late.read_response(timeout=1.0)
                    assert r.status >= 500, "a connection made after SIGTERM was served: %r" % r
                except (Closed, TimeoutError, ConnectionError):
                    pass
        except ConnectionRefusedError:
            pass
        r = c.read_response()
        assert r.status == 200 and r.body == pattern(100000)
    assert origin.request_count() == 1
    rc = magpie.expect_exit(10)
    assert rc == 0, magpie.exit_message(rc)


def test_sigterm_drain_is_bounded_by_shutdown_timeout(magpie_factory, origin):
    magpie = magpie_factory(limits={"shutdown_timeout": "1s"})
    with magpie.conn(timeout=15) as c:
        c.send(build_request("GET", origin.url("/hang")))
        assert poll(lambda: origin.request_count() == 1)
        start = time.monotonic()
        magpie.signal(signal.SIGTERM)
        rc = magpie.expect_exit(10)
        took = time.monotonic() - start
        assert rc == 0, magpie.exit_message(rc)
        assert 0.8 <= took < 4, "exit %.2f s after SIGTERM with shutdown_timeout 1s" % took
        data = b""
        try:
            c.sock.settimeout(2)
            data = c.sock.recv(65536)
        except (ConnectionError, socket.timeout):
            pass
        assert not data.startswith(b"HTTP/1.1 200")


def test_sigterm_does_not_wait_for_idle_keepalive_connections(magpie_factory, origin):
    magpie = magpie_factory(limits={"shutdown_timeout": "5s"})
    with magpie.conn() as c:
        assert c.request("GET", origin.url("/bytes/1")).status == 200
        start = time.monotonic()
        magpie.signal(signal.SIGTERM)
        rc = magpie.expect_exit(10)
        took = time.monotonic() - start
        assert rc == 0, magpie.exit_message(rc)
        assert took < 2.5, "an idle keep-alive connection held the exit for %.1f s" % took
        assert c.closed_by_peer(1.0)


def test_sigterm_when_idle_exits_zero(magpie):
    start = time.monotonic()
    magpie.signal(signal.SIGTERM)
    rc = magpie.expect_exit(10)
    assert rc == 0, magpie.exit_message(rc)
    assert time.monotonic() - start < 2
