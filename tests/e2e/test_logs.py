"""Access log and error log formats.

Access line: TIME CLIENT METHOD URL STATUS BYTES DURATION_MS CACHE UPSTREAM RECEIVED CODING
FOLLOWED, e.g.
2026-11-24T15:30:00.123Z 127.0.0.1:51234 GET http://127.0.0.1:8080/p 200 345 2 DIRECT 127.0.0.1:8080 0 identity -
FOLLOWED is "-", or the redirects magpie followed and the URL the last one led to: 2:http://h/x
Error line: 2026-11-24T15:30:00.123Z [info] message
"""

import datetime
import re
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
