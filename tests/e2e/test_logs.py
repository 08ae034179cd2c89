"""Access log and error log formats.

Access line: TIME CLIENT METHOD URL STATUS BYTES DURATION_MS CACHE UPSTREAM RECEIVED CODING
FOLLOWED, e.g.
2026-11-24T15:30:00.123Z 127.0.0.1:51234 GET http://127.0.0.1:8080/p 200 345 2 DIRECT 127.0.0.1:8080 0 identity -
FOLLOWED is "-", or the redirects magpie followed and the URL the last one led to: 2:http://h/x
Error line: 2026-11-24T15:30:00.123Z [info] message
"""

import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

from rawhttp import build_request, fetch

TIME_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
ACCESS_RE = re.compile(
    r"^(?P<time>%s) (?P<client>\S+) (?P<method>[A-Z]+) (?P<url>\S+) (?P<status>\d{3}) "
    r"(?P<bytes>\d+) (?P<ms>\d+) (?P<cache>[A-Z_]+) (?P<upstream>\S+) (?P<received>\d+) "
    r"(?P<coding>identity|gzip|deflate|br|zstd|unknown|-) (?P<followed>-|[1-9]\d*:\S+)$"
    % TIME_RE)
ERROR_RE = re.compile(r"^%s \[(error|warn|info|debug)\] \S.*$" % TIME_RE)


def parse(line):
    m = ACCESS_RE.match(line)
    assert m, "access log line does not match the format: %r" % line
    return m.groupdict()


def test_access_line_format_and_fields(magpie, origin):
    with magpie.conn() as c:
        client_port = c.local_port
        c.send(build_request("GET", origin.url("/bytes/1000"), headers=[("Connection", "close")]))
        received = c.read_all()
    assert received.startswith(b"HTTP/1.1 200 ")
    url = origin.url("/bytes/1000")
    f = parse(magpie.wait_access_line(lambda l: url in l))
    when = datetime.datetime.strptime(f["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.datetime.utcnow()
    assert abs((now - when).total_seconds()) < 10, "log time %s, now %s" % (when, now)
    assert f["client"] == "127.0.0.1:%d" % client_port
    assert f["method"] == "GET"
    assert f["url"] == url
    assert f["status"] == "200"
    assert int(f["bytes"]) == len(received), "bytes field vs bytes the client received"
    assert f["cache"] == "MISS"  # a GET looked up in the cache and not found
    assert f["upstream"] == "127.0.0.1:%d" % origin.port


def test_access_line_duration_is_in_milliseconds(magpie, origin):
    fetch(magpie.port, "GET", origin.url("/slow/0.4"))
    f = parse(magpie.wait_access_line(lambda l: "/slow/0.4" in l))
    assert 400 <= int(f["ms"]) < 5000, f["ms"]


def test_access_line_for_post(magpie, origin):
    fetch(magpie.port, "POST", origin.url("/echo?post"), body=b"abc")
    f = parse(magpie.wait_access_line(lambda l: "/echo?post" in l))
    assert f["method"] == "POST" and f["status"] == "200"
    assert f["received"] == "3", "request body bytes received from the client"


def test_access_line_for_rejected_request_has_no_upstream(magpie, origin):
    fetch(magpie.port, "GET", "/nowhere", host="unrouted.local")
    f = parse(magpie.wait_access_line(lambda l: " 400 " in l))
    assert f["status"] == "400"
    assert f["upstream"] == "-"
    assert f["cache"] == "DIRECT"  # refused before it reached the cache


def test_access_line_for_reverse_request(magpie, origin):
    fetch(magpie.port, "GET", "/bytes/5?rev", host="api.local")
    f = parse(magpie.wait_access_line(lambda l: "/bytes/5?rev" in l))
    assert f["status"] == "200"
    assert f["url"].startswith("http://") and f["url"].endswith("/bytes/5?rev")
    assert f["upstream"] == "127.0.0.1:%d" % origin.port


def test_one_access_line_per_request_on_keepalive(magpie, origin):
    with magpie.conn() as c:
        port = c.local_port
        for i in range(3):
            assert c.request("GET", origin.url("/bytes/1?ka%d" % i)).status == 200
    magpie.wait_access_line(lambda l: "?ka2" in l)
    time.sleep(0.2)
    lines = [l for l in magpie.access_log_lines() if "?ka" in l]
    assert len(lines) == 3
    assert [parse(l)["client"] for l in lines] == ["127.0.0.1:%d" % port] * 3
    assert [parse(l)["url"].rsplit("?", 1)[1] for l in lines] == ["ka0", "ka1", "ka2"]


def test_access_log_to_stderr(magpie_factory, origin):
    magpie = magpie_factory(access_log="-")
    fetch(magpie.port, "GET", origin.url("/bytes/1?stderr"))
    deadline = time.monotonic() + 3
    while "?stderr" not in magpie.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [l for l in magpie.stderr_text().splitlines() if "?stderr" in l]
    assert lines, "no access line on stderr"
    parse(lines[0])


def test_access_log_off(magpie_factory, origin):
    magpie = magpie_factory(access_log="off")
    assert fetch(magpie.port, "GET", origin.url("/bytes/1")).status == 200
    time.sleep(0.2)
    assert not magpie.access_log_path.exists()
    assert "/bytes/1" not in magpie.stderr_text()


def test_error_log_lines_have_time_and_level(magpie, origin):
    with magpie.conn() as c:
        c.send(b"GARBAGE\r\n\r\n")
        c.read_response()
    fetch(magpie.port, "GET", origin.url("/bytes/1"))
    magpie.wait_error_log(r"\S")
    lines = [l for l in magpie.error_log_text().splitlines() if l]
    bad = [l for l in lines if not ERROR_RE.match(l)]
    assert not bad, "error log lines not in the format: %r" % bad[:5]


def test_log_level_error_hides_debug_and_info(magpie_factory, origin):
    magpie = magpie_factory(log_level="error")
    with magpie.conn() as c:
        c.send(b"GARBAGE\r\n\r\n")
        c.read_response()
    fetch(magpie.port, "GET", origin.url("/bytes/1"))
    time.sleep(0.3)
    levels = re.findall(r"^\S+ \[(\w+)\]", magpie.error_log_text(), re.M)
    assert set(levels) <= {"error"}, levels


# -- access_log_format: combined and json ----------------------------------------

COMBINED_RE = re.compile(
    r'^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>(?:[^"\\]|\\.)*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)" (?P<cache>[A-Z_]+) "(?P<followed>-|[1-9]\d*:(?:[^"\\]|\\.)*)"$')
JSON_KEYS = {"time", "client", "user", "method", "url", "status", "bytes", "received",
             "duration_ms", "cache", "upstream", "encoding", "followed"}


def parse_combined(line):
    m = COMBINED_RE.match(line)
    assert m, "not a combined line: %r" % line
    return m.groupdict()


def access_log_bytes(magpie):
    try:
        return magpie.access_log_path.read_bytes()
    except FileNotFoundError:
        return b""


def json_lines(magpie, want, timeout=3.0):
    """Every access line decoded as strict UTF-8 and parsed as JSON, once
    want(objects) holds (bounded poll)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = access_log_bytes(magpie)
        objs = [json.loads(l.decode("utf-8")) for l in raw.splitlines()]
        if want(objs) or time.monotonic() > deadline:
            assert want(objs), "no matching json line in %.0f s; log:\n%r" % (timeout, raw[-3000:])
            return objs
        time.sleep(0.05)


def test_combined_line_format_and_fields(magpie_factory, origin):
    magpie = magpie_factory(access_log_format="combined")
    url = origin.url("/bytes/1000?comb")
    with magpie.conn() as c:
        c.send(build_request("GET", url, headers=[("Referer", "http://ref.example/p"),
                                                  ("User-Agent", "tester/1.0 (x)"),
                                                  ("Connection", "close")]))
        received = c.read_all()
    assert received.startswith(b"HTTP/1.1 200 ")
    f = parse_combined(magpie.wait_access_line(lambda l: "?comb" in l))
    when = datetime.datetime.strptime(f["time"], "%d/%b/%Y:%H:%M:%S %z")
    now = datetime.datetime.now(datetime.timezone.utc)
    assert f["time"].endswith(" +0000")
    assert abs((now - when).total_seconds()) < 10, "log time %s, now %s" % (when, now)
    assert f["host"] == "127.0.0.1", "Apache's %h: the address without the port"
    assert f["user"] == "-"
    assert f["request"] == "GET %s HTTP/1.1" % url
    assert f["status"] == "200"
    assert int(f["bytes"]) == len(received)
    assert f["referer"] == "http://ref.example/p"
    assert f["agent"] == "tester/1.0 (x)"
    assert f["cache"] == "MISS"
    assert f["followed"] == "-"


def test_combined_request_line_as_received(magpie_factory, origin):
    """A reverse request logs its origin-form target and version, not the
    absolute URL; missing Referer and User-Agent are "-"."""
    magpie = magpie_factory(access_log_format="combined")
    with magpie.conn() as c:
        c.send(b"GET /bytes/5?rev-comb HTTP/1.0\r\nHost: api.local\r\n\r\n")
        assert c.read_response().status == 200
    f = parse_combined(magpie.wait_access_line(lambda l: "?rev-comb" in l))
    assert f["request"] == "GET /bytes/5?rev-comb HTTP/1.0"
    assert f["referer"] == "-" and f["agent"] == "-"


def test_combined_escapes_hostile_header_bytes(magpie_factory, origin):
    """Quotes, backslashes, tabs and bytes outside printable ASCII in the
    client's fields are escaped as Apache does: the line stays parseable."""
    magpie = magpie_factory(access_log_format="combined")
    with magpie.conn() as c:
        c.send(b"GET " + origin.url("/bytes/1?hostile").encode() + b" HTTP/1.1\r\n"
               b"Host: 127.0.0.1\r\n"
               b"User-Agent: a\"b\\c\td\xff\xc3\xa9\r\n"
               b"Referer: \" \"\xfe\r\n\r\n")
        assert c.read_response().status == 200
    deadline = time.monotonic() + 3
    while b"?hostile" not in access_log_bytes(magpie) and time.monotonic() < deadline:
        time.sleep(0.05)
    raw = [l for l in access_log_bytes(magpie).splitlines() if b"?hostile" in l]
    assert len(raw) == 1, raw
    assert all(0x20 <= b < 0x7f for b in raw[0]), "unescaped bytes in %r" % raw[0]
    f = parse_combined(raw[0].decode("ascii"))
    assert f["agent"] == r'a\"b\\c\td\xff\xc3\xa9'
    assert f["referer"] == r'\" \"\xfe'


def test_json_line_fields(magpie_factory, origin):
    magpie = magpie_factory(access_log_format="json")
    url = origin.url("/bytes/1000?json")
    with magpie.conn() as c:
        client_port = c.local_port
        c.send(build_request("POST", url, headers=[("Connection", "close")], body=b"abcd"))
        received = c.read_all()
    assert received.startswith(b"HTTP/1.1 200 ")
    o = [o for o in json_lines(magpie, lambda objs: any(o["url"] == url for o in objs))
         if o["url"] == url][0]
    assert set(o) == JSON_KEYS
    when = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert re.fullmatch(TIME_RE, o["time"]), o["time"]
    assert abs((datetime.datetime.utcnow() - when).total_seconds()) < 10
    assert o["client"] == "127.0.0.1:%d" % client_port
    assert o["user"] is None
    assert o["method"] == "POST"
    assert o["status"] == 200
    assert o["bytes"] == len(received)
    assert o["received"] == 4
    assert isinstance(o["duration_ms"], int) and o["duration_ms"] >= 0
    assert o["cache"] == "BYPASS"
    assert o["upstream"] == "127.0.0.1:%d" % origin.port
    assert o["encoding"] == "identity"
    assert o["followed"] is None


def test_json_hostile_target_stays_valid_json(magpie_factory, origin):
    """A target with quotes and backslashes is logged escaped; one with bytes
    that are not UTF-8 is refused (400) and its line is still valid JSON."""
    magpie = magpie_factory(access_log_format="json")
    quoted = origin.url('/bytes/1?q="x\\"y\\\\')
    with magpie.conn() as c:
        c.send(b"GET " + quoted.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        c.read_response()
    with magpie.conn() as c:
        c.send(b"GET " + origin.url("/bytes/1?bad=").encode() + b"\xff\xc3(\xed\xa0\x80\"\\"
               b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert c.read_response().status == 400
    objs = json_lines(magpie, lambda objs: len(objs) >= 2)
    assert objs[0]["url"] == quoted
    assert objs[1]["status"] == 400 and objs[1]["url"] is None and objs[1]["method"] is None
    assert objs[1]["encoding"] in ("identity", None)


def test_json_request_never_parsed(magpie_factory, origin):
    magpie = magpie_factory(access_log_format="json")
    with magpie.conn() as c:
        c.send(b"GARBAGE\r\n\r\n")
        assert c.read_response().status == 400
    o = json_lines(magpie, lambda objs: len(objs) >= 1)[0]
    assert o["method"] is None and o["url"] is None and o["upstream"] is None
    assert o["cache"] == "DIRECT"


# -- etc/logrotate.d/magpie --------------------------------------------------------

LOGROTATE_FILE = pathlib.Path(__file__).resolve().parents[2] / "etc" / "logrotate.d" / "magpie"
POSTROTATE = "systemctl kill --kill-whom=main --signal=USR1 magpie.service"


def logrotate_bin():
    path = shutil.which("logrotate") or "/usr/sbin/logrotate"
    assert os.access(path, os.X_OK), "logrotate is missing: sh scripts/deps.sh installs it"
    return path


def logrotate_copy(logdir, pid):
    """The shipped file with its paths in logdir and its signal sent to pid."""
    text = LOGROTATE_FILE.read_text()
    assert "/var/log/magpie/*.log {" in text and POSTROTATE in text
    text = text.replace("/var/log/magpie/", "%s/" % logdir)
    text = text.replace(POSTROTATE, "kill -USR1 %d" % pid)
    conf = logdir.parent / "logrotate.conf"
    conf.write_text(text)
    return conf


def run_logrotate(*args):
    return subprocess.run([logrotate_bin()] + list(args), capture_output=True, text=True,
                          timeout=30)


def test_logrotate_file_is_valid(tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    conf = logrotate_copy(logdir, os.getpid())
    r = run_logrotate("--debug", "-s", str(tmp_path / "state"), str(conf))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "error" not in out.lower(), out
    assert "rotating pattern: %s/*.log  after 1 days (14 rotations)" % logdir in out, out
    assert "empty log files are not rotated" in out, out


def test_logrotate_rotation_reopens_logs(magpie, origin):
    """A forced rotation with the shipped file: the logs move to *.log.1, the
    postrotate's SIGUSR1 makes magpie reopen them, and the next request's
    line lands in a new access.log."""
    fetch(magpie.port, "GET", origin.url("/bytes/1?before-rotate"))
    magpie.wait_access_line(lambda l: "?before-rotate" in l)
    logdir = magpie.access_log_path.parent
    conf = logrotate_copy(logdir, magpie.pid)
    r = run_logrotate("-f", "-s", str(logdir.parent / "logrotate.state"), str(conf))
    assert r.returncode == 0, r.stdout + r.stderr
    rotated = logdir / "access.log.1"
    assert rotated.exists(), sorted(p.name for p in logdir.iterdir())
    assert (logdir / "error.log.1").exists()
    magpie.wait_error_log(r"\[info\] logs reopened")
    fetch(magpie.port, "GET", origin.url("/bytes/1?after-rotate"))
    magpie.wait_access_line(lambda l: "?after-rotate" in l)
    assert not any("?before-rotate" in l for l in magpie.access_log_lines())
    old = rotated.read_text()
    assert "?before-rotate" in old and "?after-rotate" not in old
