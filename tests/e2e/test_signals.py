"""Signals: USR1 reopens the logs, HUP reloads the config (or keeps the old
one when the new one is invalid), opening added listeners and closing removed
ones without refusing a connection on those that stay, TERM drains in-flight
requests and exits 0; and what magpie tells systemd through NOTIFY_SOCKET
(READY, RELOADING with MONOTONIC_USEC, STOPPING, STATUS, WATCHDOG)."""

import re
import signal
import socket
import threading
import time

from conftest import free_port, listen_text, poll
from origin import pattern
from rawhttp import Closed, Conn, build_request, fetch


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


# -- systemd notification --------------------------------------------------------------

def _monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_notify_ready_reloading_stopping(magpie_factory, origin, notify):
    magpie = magpie_factory(env=notify.env)
    ready = notify.wait(lambda f: "READY" in f)
    assert ready["READY"] == "1"
    assert re.fullmatch(r"0 connections, cache 0 objects / 0\.0 MiB", ready.get("STATUS", "")), ready
    cached = origin.url("/headers?Cache-Control=public%2C%20max-age%3D60")
    assert poll(lambda: "HIT" in (fetch(magpie.port, "GET", cached).header("X-Cache") or ""))
    with magpie.conn() as held:
        assert held.request("GET", origin.url("/bytes/1")).status == 200
        before = _monotonic_usec()
        magpie.signal(signal.SIGHUP)
        reloading = notify.wait(lambda f: "RELOADING" in f)
        after = _monotonic_usec()
        assert reloading["RELOADING"] == "1"
        assert before <= int(reloading["MONOTONIC_USEC"]) <= after, (before, reloading, after)
        ready = notify.wait(lambda f: "READY" in f)
        # the held connection, and the response cached before the reload
        assert re.fullmatch(r"1 connection, cache 1 object / 0\.0 MiB", ready.get("STATUS", "")), ready
        assert "RELOADING" not in ready
    magpie.signal(signal.SIGTERM)
    stopping = notify.wait(lambda f: "STOPPING" in f)
    assert stopping["STOPPING"] == "1" and "stopping" in stopping.get("STATUS", "")
    rc = magpie.expect_exit(10)
    assert rc == 0, magpie.exit_message(rc)


def test_notify_failed_reload_says_so_in_status(magpie_factory, origin, notify):
    magpie = magpie_factory(env=notify.env)
    notify.wait(lambda f: "READY" in f)
    magpie.write_config_text(magpie.config_path.read_text() + "bogus_key: 1\n")
    magpie.signal(signal.SIGHUP)
    notify.wait(lambda f: "RELOADING" in f)
    ready = notify.wait(lambda f: "READY" in f)
    assert "reload failed" in ready.get("STATUS", ""), ready
    assert fetch(magpie.port, "GET", origin.url("/bytes/2")).status == 200
    magpie.write_config({})
    magpie.signal(signal.SIGHUP)
    ready = notify.wait(lambda f: "READY" in f)
    assert "reload failed" not in ready.get("STATUS", "x"), ready


def test_notify_status_follows_connections(magpie_factory, origin, notify):
    magpie = magpie_factory(env=notify.env)
    notify.wait(lambda f: "READY" in f)
    with magpie.conn() as held:
        assert held.request("GET", origin.url("/bytes/1")).status == 200
        # no signal: the periodic check sends it (every 5 s, only when changed)
        got = notify.wait(lambda f: f.get("STATUS", "").startswith("1 connection,"), timeout=8)
        assert "READY" not in got


def test_notify_status_says_stopping_through_the_drain(magpie_factory, origin, notify):
    """The periodic STATUS= goes on while draining: as connections finish it
    still says stopping, not the running "N connections" line."""
    magpie = magpie_factory(env=notify.env, limits={"shutdown_timeout": "10s"})
    notify.wait(lambda f: "READY" in f)
    got = []
    slow = [threading.Thread(target=lambda s=s: got.append(
        fetch(magpie.port, "GET", origin.url("/slow/%s" % s), timeout=15))) for s in ("0.3", "7")]
    for t in slow:
        t.start()
    assert poll(lambda: origin.request_count() == 2)
    magpie.signal(signal.SIGTERM)
    stopping = notify.wait(lambda f: "STOPPING" in f)
    assert stopping.get("STATUS", "").startswith("stopping: "), stopping
    # the short one finishes; the next periodic check (every 5 s) reports it
    later = notify.wait(lambda f: re.search(r"\b1 connection\b", f.get("STATUS", "")), timeout=8)
    assert later["STATUS"].startswith("stopping: "), later
    for t in slow:
        t.join(15)
    assert [r.status for r in got] == [200, 200]
    rc = magpie.expect_exit(10)
    assert rc == 0, magpie.exit_message(rc)


def test_watchdog_at_half_the_interval(magpie_factory, notify):
    magpie_factory(env=dict(notify.env, WATCHDOG_USEC="200000"))
    notify.wait(lambda f: "READY" in f)
    got = [f for f in notify.collect(1.0) if "WATCHDOG" in f]
    # every 0.1 s: about ten in a second; fewer than four means the timer is
    # not at half of WATCHDOG_USEC (or not running)
    assert len(got) >= 4, got
    assert all(f["WATCHDOG"] == "1" for f in got)


def test_watchdog_for_another_pid_is_not_ours(magpie_factory, notify):
    magpie_factory(env=dict(notify.env, WATCHDOG_USEC="200000", WATCHDOG_PID="1"))
    notify.wait(lambda f: "READY" in f)
    got = [f for f in notify.collect(0.6) if "WATCHDOG" in f]
    assert got == []


# -- HUP and listeners ---------------------------------------------------------------

def _refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _reload(magpie, notify, **overrides):
    magpie.write_config(overrides)
    magpie.signal(signal.SIGHUP)
    notify.wait(lambda f: "RELOADING" in f)
    return notify.wait(lambda f: "READY" in f)


def test_hup_opens_added_and_closes_removed_listeners(magpie_factory, origin, notify):
    magpie = magpie_factory(env=notify.env, limits={"shutdown_timeout": "5s"})
    notify.wait(lambda f: "READY" in f)
    main = listen_text("127.0.0.1", magpie.port)
    gone, added = free_port(), free_port()
    _reload(magpie, notify, listen=[main, listen_text("127.0.0.1", gone)])
    assert fetch(gone, "GET", origin.url("/bytes/3")).status == 200
    with Conn(gone, timeout=15) as inflight:
        inflight.send(build_request("GET", origin.url("/drip/100000/2")))
        assert inflight.wait_for(b"\r\n\r\n"), "no response head"
        ready = _reload(magpie, notify, listen=[main, listen_text("127.0.0.1", added)])
        assert "reload failed" not in ready.get("STATUS", ""), ready
        r = fetch(added, "GET", origin.url("/bytes/4"))
        assert r.status == 200 and r.body == pattern(4)
        assert _refused(gone), "a removed listener still accepts"
        assert fetch(magpie.port, "GET", origin.url("/bytes/5")).status == 200
        r = inflight.read_response()
    assert r.status == 200 and r.complete and r.body == pattern(100000)
    magpie.wait_error_log(r"no longer listening on 127\.0\.0\.1:%d" % gone)


def test_hup_refuses_no_connection_on_a_kept_listener(magpie_factory, origin, notify):
    magpie = magpie_factory(env=notify.env)
    notify.wait(lambda f: "READY" in f)
    main = listen_text("127.0.0.1", magpie.port)
    stop = threading.Event()
    counts = {"ok": 0, "refused": 0, "other": 0}

    def connect_loop():
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", magpie.port), timeout=2):
                    counts["ok"] += 1
            except ConnectionRefusedError:
                counts["refused"] += 1
            except OSError:
                counts["other"] += 1

    t = threading.Thread(target=connect_loop)
    t.start()
    try:
        for i in range(6):
            extra = [listen_text("127.0.0.1", free_port())] if i % 2 == 0 else []
            ready = _reload(magpie, notify, listen=[main] + extra)
            assert "reload failed" not in ready.get("STATUS", ""), ready
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(25)
    assert counts["refused"] == 0 and counts["other"] == 0, counts
    assert counts["ok"] > 6, counts
    assert fetch(magpie.port, "GET", origin.url("/bytes/6")).status == 200


def test_hup_that_cannot_listen_keeps_the_running_config(magpie_factory, origin, notify):
    magpie = magpie_factory(env=notify.env)
    notify.wait(lambda f: "READY" in f)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        main = listen_text("127.0.0.1", magpie.port)
        ready = _reload(magpie, notify, listen=[main, listen_text("127.0.0.1", port)],
                        acl={"allow": ["10.0.0.0/8"]})
        assert "reload failed" in ready.get("STATUS", ""), ready
        magpie.wait_error_log(r"reload failed, keeping the running config: cannot listen on "
                              r"127\.0\.0\.1:%d" % port)
        # the acl of the same reload is not applied either: nothing changed
        assert fetch(magpie.port, "GET", origin.url("/bytes/7")).status == 200
    finally:
        taken.close()
