"""
conftest.py - fixtures for magpie's end-to-end tests (after h2o t/Util.pm):
the daemon is spawned on a free loopback port from a config written under
tmp_path, readiness is a bounded poll-connect, and at the end of the test it
gets SIGTERM and must exit 0 within a bounded time (an ASan build exits
non-zero on a leak or error, which fails the test). A death by signal fails
the test too. Everything started here is stopped here, by PID.

Fixtures: origin (numbering origin on 127.0.0.1), origin6 (on ::1), dns (the
tests' own DNS server), closed_port (nothing listens), blackhole (connects
hang), notify (a NOTIFY_SOCKET to read), magpie_factory(**config
overrides), magpie (default config).
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dnsserver import DNSServer
from origin import Origin
from sdnotify import NotifySocket
import rawhttp

REPO_ROOT = Path(__file__).resolve().parents[2]
PROXY_NAME = "magpie-test"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
TEST_TIME_LIMIT = 60.0
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")


def magpie_bin():
    b = Path(os.environ.get("MAGPIE_BIN", "build/magpie"))
    if not b.is_absolute():
        b = REPO_ROOT / b
    return b


def clean_env(**extra):
    """The environment without any proxy variables, plus extra."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    env.update(extra)
    return env


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def poll(fn, timeout=3.0, step=0.05):
    """Calls fn() until it returns something true; that value, or the last
    false one at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


# -- config ------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    v = str(v)
    return v if _PLAIN.match(v) and not v.startswith("-") and v not in ("true", "false", "null", "yes", "no") else json.dumps(v)


def to_yaml(value, indent=0):
    """Block-style YAML for nested dicts and lists of scalars or dicts."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append("%s%s: %s" % (pad, k, "{}" if isinstance(v, dict) else "[]"))
            else:
                lines.append("%s%s: %s" % (pad, k, _scalar(v)))
    else:
        for item in value:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 2).split("\n")
                lines.append("%s- %s" % (pad, sub[0].lstrip()))
                lines += sub[1:]
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    return "\n".join(lines)


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def listen_text(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


# -- the daemon ----------------------------------------------------------------

class StartError(Exception):
    def __init__(self, rc, stderr):
        super().__init__("magpie exited with %s during start-up; stderr:\n%s" % (rc, stderr))
        self.rc = rc


class Magpie:
    """One magpie process: config file, logs, and control."""

    def __init__(self, workdir, host, port, base, overrides, env):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port
        self.base = base
        self.config_path = self.dir / "magpie.yaml"
        self.access_log_path = self.dir / "access.log"
        self.error_log_path = self.dir / "error.log"
        self.stderr_path = self.dir / "stderr.txt"
        self.stdout_path = self.dir / "stdout.txt"
        self.env = env
        self.proc = None
        self.checked = False  # the test checked the exit itself
        self.config = self.write_config(overrides)

    # -- config

    def write_config(self, overrides=None):
        cfg = merge(self.base, overrides or {})
        self.write_config_text(to_yaml(cfg) + "\n")
        self.config = cfg
        return cfg

    def write_config_text(self, text):
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)

    # -- process

    @property
    def pid(self):
        return self.proc.pid

    @property
    def proxy_url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (h, self.port)

    def start(self):
        self._stderr = open(self.stderr_path, "ab")
        self._stdout = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen([str(magpie_bin()), "-c", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, env=self.env, cwd=str(self.dir))
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise StartError(rc, self.stderr_text())
            try:
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(0.5)
                    s.connect((self.host, self.port))
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError("magpie not ready on %s within %.0f s; stderr:\n%s"
                                         % (self.proxy_url, READY_TIMEOUT, self.stderr_text()))
                time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        assert self.alive(), "magpie is not running (exit %s)" % self.proc.returncode
        os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then the exit code (SIGKILL and None if it did not exit in time)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        self._close_files()
        return rc

    def expect_exit(self, timeout=STOP_TIMEOUT):
        """Waits for an exit the test itself caused (killing on timeout), so
        the fixture does not check it again. The exit code, or None."""
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        else:
            self._close_files()
        self.checked = True
        return rc

    def exit_message(self, rc):
        return "magpie %s; stderr:\n%s" % (self.describe_exit(rc), self.stderr_text()[-6000:])

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._close_files()

    def _close_files(self):
        for f in (self._stderr, self._stdout):
            if not f.closed:
                f.close()

    def describe_exit(self, rc):
        if rc is None:
            return "did not exit in time (killed)"
        if rc < 0:
            return "died from signal %s" % signal.Signals(-rc).name
        return "exited with code %d" % rc

    # -- logs and state

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def access_log_lines(self):
        try:
            return self.access_log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def error_log_text(self):
        try:
            return self.error_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_access_line(self, pred, timeout=3.0):
        """The first access log line for which pred(line) holds (bounded poll)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.access_log_lines():
                if pred(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no matching access log line in %.0f s; log:\n%s"
                                     % (timeout, "\n".join(self.access_log_lines()[-20:])))
            time.sleep(0.05)

    def wait_error_log(self, regex, timeout=3.0):
        """The first error log match of regex (bounded poll)."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(regex, self.error_log_text(), re.M)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("no error log line matching %r in %.0f s; log tail:\n%s"
                                     % (regex, timeout, self.error_log_text()[-3000:]))
            time.sleep(0.05)

    def memory(self):
        """(VmRSS, VmHWM) in bytes from /proc/PID/status."""
        vals = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    vals[k] = int(v.split()[0]) * 1024
        return vals["VmRSS"], vals["VmHWM"]

    def conn(self, timeout=10.0):
        return rawhttp.Conn(self.port, addr=self.host, timeout=timeout)


# -- fixtures ------------------------------------------------------------------

@pytest.fixture
def origin():
    o = Origin("127.0.0.1")
    yield o
    o.stop()


@pytest.fixture
def origin6():
    o = Origin("::1")
    yield o
    o.stop()


@pytest.fixture
def dns():
    d = DNSServer({"origin.test": "127.0.0.1", "api.local": "127.0.0.1"}, ttl=300)
    yield d
    d.stop()


@pytest.fixture
def notify():
    """A NOTIFY_SOCKET of the test's own (sdnotify.py); pass notify.env."""
    n = NotifySocket()
    yield n
    n.close()


@pytest.fixture
def closed_port():
    """A loopback port where nothing listens: connects are refused."""
    return free_port()


@pytest.fixture
def blackhole():
    """A port whose connects hang: a listener with a full accept queue."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.1)
    yield port
    for c in fillers:
        c.close()
    lst.close()


def default_config(workdir, host, port, dns, origin):
    return {
        "listen": [listen_text(host, port)],
        "acl": {"allow": ["127.0.0.0/8", "::1/128"]},
        "access_log": str(workdir / "access.log"),
        "error_log": str(workdir / "error.log"),
        "log_level": "debug",
        "proxy_name": PROXY_NAME,
        "limits": {
            "max_connections": 10000,
            "max_header_bytes": "64KiB",
            "max_uri_bytes": "8KiB",
            "client_header_timeout": "10s",
            "client_idle_timeout": "60s",
            "shutdown_timeout": "1s",
        },
        "upstream": {"connect_timeout": "5s", "read_timeout": "30s"},
        "dns": {"servers": [dns.address], "max_ttl": "300s", "timeout": "5s"},
        "routes": [{"host": "api.local", "origin": origin.url("")}],
        "cache": {"dir": str(workdir / "cache")},
    }


@pytest.fixture
def magpie_factory(tmp_path, origin, dns):
    """magpie_factory(host="127.0.0.1", env=None, **overrides) -> a started Magpie.

    overrides are merged into the default config (a None value drops a key).
    """
    started = []

    def start(host="127.0.0.1", env=None, **overrides):
        for attempt in range(3):
            port = free_port(host)
            workdir = tmp_path / ("magpie%d" % len(started))
            base = default_config(workdir, host, port, dns, origin)
            m = Magpie(workdir, host, port, base, overrides, clean_env(**(env or {})))
            started.append(m)
            try:
                return m.start()
            except StartError as e:
                m.checked = True
                if e.rc != 3 or attempt == 2:  # 3: cannot bind; the port was taken meanwhile
                    raise

    yield start
    stop_all(started)


def stop_all(started):
    """Stops each Magpie the test did not check itself; fails the test on
    any exit other than 0."""
    problems = []
    for m in started:
        if m.proc is None or m.checked:
            continue
        rc = m.stop()
        if rc != 0:
            problems.append("magpie pid %d %s; stderr:\n%s"
                            % (m.pid, m.describe_exit(rc), m.stderr_text()[-6000:]))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def magpie(magpie_factory):
    return magpie_factory()


# -- a time limit for every test (no pytest-timeout here) ------------------------

class TimeLimitExceeded(BaseException):
    """Not an Exception, so that no except clause in a test swallows it."""


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): fail the test after that long")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    marker = item.get_closest_marker("time_limit")
    limit = marker.args[0] if marker else TEST_TIME_LIMIT

    def on_alarm(signum, frame):
        raise TimeLimitExceeded("test exceeded its time limit of %s s" % limit)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def pytest_sessionstart(session):
    if not magpie_bin().exists():
        print("\nmagpie e2e: MAGPIE_BIN %s does not exist; every test will fail" % magpie_bin())
