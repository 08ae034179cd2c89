"""systemd: socket activation (sockets passed in LISTEN_FDS, matched to the
`listen` entries by address) through systemd-socket-activate and through a
socket the test holds across a restart, so that a connection made while
magpie is replaced is served by the next one; a passed socket no entry
claims is a start-up error; and the unit files: `systemd-analyze verify`
clean on both (paths pointed at the build) and the service's
`systemd-analyze security` exposure at most 2.0."""

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import (REPO_ROOT, Magpie, clean_env, default_config, free_port, listen_text,
                      magpie_bin, poll, stop_all)
from origin import pattern
from rawhttp import Conn, build_request, fetch

ACTIVATE = "/usr/bin/systemd-socket-activate"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
SAN_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


class Passed(Magpie):
    """A magpie started with sockets passed to it, not found by connecting:
    readiness is its READY=1."""

    def launch(self, argv, pass_fds=(), env=None):
        self._stderr = open(self.stderr_path, "ab")
        self._stdout = open(self.stdout_path, "ab")
        self.checked = False
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, env=env or self.env,
                                     cwd=str(self.dir), pass_fds=pass_fds)
        return self


@pytest.fixture
def passed(tmp_path, origin, dns):
    """passed(listen=[...]) -> a Passed not yet launched, stopped (by PID)
    and checked for exit 0 at the end unless the test checked it."""
    made = []

    def make(listen, **overrides):
        workdir = tmp_path / ("magpie%d" % len(made))
        base = default_config(workdir, "127.0.0.1", 0, dns, origin)
        base["listen"] = listen
        m = Passed(workdir, "127.0.0.1", 0, base, overrides, clean_env())
        made.append(m)
        return m

    yield make
    stop_all(made)


def _held_socket():
    """A listening socket the test holds, as systemd would, and a copy of
    its fd at 10 or above (so that moving it to 3 never closes it)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    fd = fcntl.fcntl(lst.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
    return lst, fd


def _launch_with(m, fd, notify, name="held"):
    """magpie with fd as its socket 3, LISTEN_PID its own pid (the shell's,
    which exec keeps), as systemd starts a service of a socket unit; bash,
    since dash moves no fd above 9."""
    script = 'LISTEN_PID=$$ exec "$0" "$@" 3<&%d %d<&-' % (fd, fd)
    env = dict(m.env, LISTEN_FDS="1", LISTEN_FDNAMES=name, **notify.env)
    return m.launch(["/bin/bash", "-c", script, str(magpie_bin()), "-c", str(m.config_path)],
                    pass_fds=(fd,), env=env)


def test_systemd_socket_activate_serves_on_the_passed_socket(passed, origin, notify):
    assert os.access(ACTIVATE, os.X_OK), "%s missing: run scripts/deps.sh" % ACTIVATE
    port, own = free_port(), free_port()
    m = passed([listen_text("127.0.0.1", port), listen_text("127.0.0.1", own)])
    argv = [ACTIVATE, "-l", "127.0.0.1:%d" % port, "--fdname=proxy", "-E",
            "NOTIFY_SOCKET=%s" % notify.path]
    argv += ["-E%s=%s" % (k, os.environ[k]) for k in SAN_VARS if k in os.environ]
    m.launch(argv + [str(magpie_bin()), "-c", str(m.config_path)])
    assert poll(lambda: "Listening on" in m.stderr_text(), timeout=5), m.stderr_text()
    # the first connection makes the activator exec magpie, which accepts it
    r = fetch(port, "GET", origin.url("/bytes/8"))
    assert r.status == 200 and r.body == pattern(8)
    notify.wait(lambda f: "READY" in f)
    m.wait_error_log(r"listening on 127\.0\.0\.1:%d \(socket proxy passed by systemd\)" % port)
    # the entry without a passed socket is bound by magpie itself
    m.wait_error_log(r"listening on 127\.0\.0\.1:%d$" % own)
    assert fetch(own, "GET", origin.url("/bytes/9")).status == 200
    m.signal(signal.SIGTERM)
    rc = m.expect_exit(10)
    assert rc == 0, m.exit_message(rc)


def test_restart_refuses_no_connection(passed, origin, notify):
    lst, fd = _held_socket()
    try:
        port = lst.getsockname()[1]
        first = passed([listen_text("127.0.0.1", port)])
        _launch_with(first, fd, notify)
        notify.wait(lambda f: "READY" in f)
        assert fetch(port, "GET", origin.url("/bytes/3")).status == 200
        first.signal(signal.SIGTERM)
        rc = first.expect_exit(10)
        assert rc == 0, first.exit_message(rc)
        # no magpie now: the connection waits in the socket's queue
        with Conn(port, timeout=15) as c:
            c.send(build_request("GET", origin.url("/bytes/5")))
            second = passed([listen_text("127.0.0.1", port)])
            _launch_with(second, fd, notify)
            notify.wait(lambda f: "READY" in f)
            r = c.read_response()
        assert r.status == 200 and r.body == pattern(5)
        second.wait_error_log(r"socket held passed by systemd")
    finally:
        os.close(fd)
        lst.close()


def test_passed_dual_stack_socket_beside_an_ipv4_entry_names_the_socket(passed, notify):
    """ListenStream=PORT with BindIPv6Only=both passes [::]:PORT: an IPv4
    entry of that port cannot be bound beside it, and the error says which
    passed socket holds the port and what to list instead."""
    lst = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lst.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    lst.bind(("::", 0))
    lst.listen(64)
    fd = fcntl.fcntl(lst.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
    try:
        port = lst.getsockname()[1]
        m = passed([listen_text("127.0.0.1", port)])
        _launch_with(m, fd, notify, name="both")
        rc = m.expect_exit(10)
        assert rc == 3, m.exit_message(rc)
        m.wait_error_log(r'listen 127\.0\.0\.1:%d: systemd passed socket both on \[::\]:%d, '
                         r'which takes this port: list "\[::\]:%d" under listen' % (port, port, port))
        assert not any("READY" in f for f in notify.collect(0.2))
    finally:
        os.close(fd)
        lst.close()


def test_passed_socket_without_listen_entry_is_a_start_error(passed, notify):
    lst, fd = _held_socket()
    try:
        port = lst.getsockname()[1]
        m = passed([listen_text("127.0.0.1", free_port())])
        _launch_with(m, fd, notify, name="stray")
        rc = m.expect_exit(10)
        assert rc == 3, m.exit_message(rc)
        m.wait_error_log(r"socket stray passed by systemd \(127\.0\.0\.1:%d\) matches no "
                         r"listen entry" % port)
        assert not any("READY" in f for f in notify.collect(0.2))
    finally:
        os.close(fd)
        lst.close()


# -- the unit files ---------------------------------------------------------------

UNITS = REPO_ROOT / "systemd"


def test_units_verify_clean(tmp_path):
    assert os.access(ANALYZE, os.X_OK), "%s missing: run scripts/deps.sh" % ANALYZE
    assert magpie_bin().exists()
    conf = REPO_ROOT / "etc" / "magpie.yaml"
    for name in ("magpie.service", "magpie.socket"):
        text = (UNITS / name).read_text()
        text = text.replace("/usr/local/sbin/magpie", str(magpie_bin()))
        text = text.replace("/etc/magpie/magpie.yaml", str(conf))
        (tmp_path / name).write_text(text)
    p = subprocess.run([ANALYZE, "verify", str(tmp_path / "magpie.service"),
                        str(tmp_path / "magpie.socket")],
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), (
        "systemd-analyze verify: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))


def test_service_security_exposure_at_most_2(tmp_path):
    assert os.access(ANALYZE, os.X_OK), "%s missing: run scripts/deps.sh" % ANALYZE
    p = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager",
                        str(UNITS / "magpie.service")],
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for magpie\.service: (\d+\.\d+)", p.stdout)
    assert m, "no exposure level in:\n%s%s" % (p.stdout, p.stderr)
    assert float(m.group(1)) <= 2.0, p.stdout
