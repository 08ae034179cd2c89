#!/usr/bin/python3
"""Instructions per request, counted by valgrind's callgrind.

Wall-clock figures move with whatever else the machine runs; instruction
counts do not. This runs magpie under callgrind in front of nginx (both on
loopback, in a temp dir), sends N hits (one cached 1 KiB file, from the
memory tier after the first) or N misses (a no-store 1 KiB file, through a
pooled origin connection) over one keep-alive connection, and reports the
user-space instructions (magpie and its libraries) per request. The gzip
case is the same hit with compression on and Accept-Encoding: gzip, served
from the gzip variant magpie stored (no compression work), next to the
identity hit with compression off (hit) and on (hit-on); their ratio is
printed last (issue 11's target: a gzip hit within 10% of an identity hit).
Start-up and warm-up (each run on an empty cache) cancel out: each figure
is the difference between a run of 3 * N and a run of N requests, divided
by 2 * N. The kernel's share (the larger one, see docs/PERFORMANCE.md)
is not counted.

    /usr/bin/python3 bench/instructions.py [--magpie BIN] [--n N] [--top K]

Needs valgrind and nginx (`sh scripts/deps.sh bench` installs nginx;
valgrind: apt-get install valgrind). Every process started here is stopped
by PID; the temp dir is removed.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx.err;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location /c/ {{ add_header Cache-Control "public, max-age=3600"; }}
    location /nostore/ {{ add_header Cache-Control "no-store"; }}
  }}
}}
"""

MAGPIE_CONF = """listen: ["127.0.0.1:{port}"]
log_level: warn
access_log: "off"
error_log: {d}/magpie.err
cache:
  dir: {d}/cache
"""
COMPRESSION_ON = """compression:
  enabled: true
"""
# (tag, path, compression on, Accept-Encoding, a hit)
CASES = (("hit", "/c/f", False, None, True), ("miss", "/nostore/f", False, None, False),
         ("hit-on", "/c/f", True, None, True), ("gzip", "/c/f", True, "gzip", True))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s at start" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on 127.0.0.1:%d" % (what, port))


def stop(proc, sig, timeout):
    """Stops a process we started: sig, then SIGKILL after timeout seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def check(head, coding, hit):
    """What is wrong with an answer's head: not a 200, not in coding (None:
    no Content-Encoding), a miss where a hit was expected (hit True) or the
    other way round (False); "" when nothing."""
    ce = re.search(r"(?im)^content-encoding:\s*(\S+)", head)
    xc = re.search(r"(?im)^x-cache:\s*(\S+)", head)
    if not head.startswith("HTTP/1.1 200"):
        return "not a 200"
    if (ce and ce.group(1)) != coding:
        return "Content-Encoding %s, not %s" % (ce and ce.group(1), coding)
    if hit is not None and (xc is not None and xc.group(1) == "HIT") != hit:
        return "X-Cache %s where a %s was expected" % (xc and xc.group(1), "hit" if hit else "miss")
    return ""


def requests(port, origin, path, n, coding=None, hit=None):
    """n GETs of path over one keep-alive connection, with Accept-Encoding:
    coding when given; checks each answer (check()). A body is
    Content-Length or chunked (a compressed miss)."""
    req = ("GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "User-Agent: instructions.py\r\nAccept: */*\r\n%s\r\n"
           % (origin, path, origin, "Accept-Encoding: %s\r\n" % coding if coding else "")).encode()
    buf = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        def need(k):
            while len(buf) < k:
                data = s.recv(65536)
                if not data:
                    raise RuntimeError("magpie closed the connection")
                buf.extend(data)

        def line():
            while b"\r\n" not in buf:
                need(len(buf) + 1)
            end = buf.index(b"\r\n")
            text = bytes(buf[:end]).decode("latin-1")
            del buf[:end + 2]
            return text

        for _ in range(n):
            s.sendall(req)
            while b"\r\n\r\n" not in buf:
                need(len(buf) + 1)
            end = buf.index(b"\r\n\r\n")
            head = bytes(buf[:end]).decode("latin-1")
            del buf[:end + 4]
            why = check(head, coding, hit)
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            chunked = re.search(r"(?im)^transfer-encoding:\s*chunked", head)
            if why or not (m or chunked):
                raise RuntimeError("unexpected answer (%s): %r" % (why or "no length", head[:300]))
            if m:
                need(int(m.group(1)))
                del buf[:int(m.group(1))]
                continue
            while True:
                size = int(line().split(";")[0], 16)
                if size == 0:
                    while line():  # the trailer
                        pass
                    break
                need(size + 2)
                del buf[:size + 2]


def run(magpie, d, port, origin, case, n):
    """Total instructions of one magpie run: warm-up, then n requests of
    the case's path."""
    tag, path, on, coding, hit = case
    out = os.path.join(d, "callgrind.%s.%d" % (tag, n))
    conf = os.path.join(d, "magpie-on.yaml" if on else "magpie.yaml")
    # an empty cache each time, so that both runs of a case warm up alike
    shutil.rmtree(os.path.join(d, "on", "cache") if on else os.path.join(d, "cache"),
                  ignore_errors=True)
    with open(os.path.join(d, "valgrind.log"), "ab") as log:
        p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                              magpie, "-c", conf],
                             stdout=log, stderr=log, cwd=d)
    try:
        try:
            wait_port(port, p, "magpie under valgrind")
        except RuntimeError as e:
            with open(os.path.join(d, "valgrind.log"), errors="replace") as f:
                said = [l for l in f.read().splitlines() if not l.startswith("==")]
            raise RuntimeError("%s (%s): %s" % (e, conf, " / ".join(said[-3:])))
        requests(port, origin, "/c/f", 2)  # stored, then copied into memory
        requests(port, origin, path, 3, coding)  # gzip: compressed and stored, then hits
        requests(port, origin, path, n, coding, hit)
    finally:
        stop(p, signal.SIGTERM, 60)
    with open(out) as f:
        m = re.search(r"^summary:\s*(\d+)", f.read(), re.M)
    if not m:
        raise RuntimeError("no summary in " + out)
    return int(m.group(1)), out


def top(before, after, n, k):
    """The k functions whose own instructions grew most per request."""
    def load(path):
        text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=99.9", path],
                              capture_output=True, text=True).stdout
        costs = {}
        for line in text.splitlines():
            m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S.*?)( \[.*\])?$", line)
            if m and "PROGRAM TOTALS" not in line and "events annotated" not in line:
                costs[m.group(2)] = int(m.group(1).replace(",", ""))
        return costs
    a, b = load(before), load(after)
    rows = sorted(((b.get(f, 0) - a.get(f, 0)) / n, f) for f in set(a) | set(b))
    return [r for r in reversed(rows)][:k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--magpie", default=os.path.join(ROOT, "build", "magpie"))
    ap.add_argument("--n", type=int, default=1000, help="requests in the short run (1000)")
    ap.add_argument("--top", type=int, default=8, help="functions to list per case (8)")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "nginx"):
        if not shutil.which(tool):
            sys.exit("instructions: %s is not installed" % tool)
    d = tempfile.mkdtemp(prefix="magpie-ir-")
    nginx = None
    try:
        os.makedirs(os.path.join(d, "www", "c"))
        os.makedirs(os.path.join(d, "www", "nostore"))
        body = bytes(range(256)) * 4
        for sub in ("c", "nostore"):
            with open(os.path.join(d, "www", sub, "f"), "wb") as f:
                f.write(body)
        origin, port = free_port(), free_port()
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(d=d, port=origin))
        with open(os.path.join(d, "magpie.yaml"), "w") as f:
            f.write(MAGPIE_CONF.format(d=d, port=port))
        with open(os.path.join(d, "magpie-on.yaml"), "w") as f:
            f.write(MAGPIE_CONF.format(d=d + "/on", port=port) + COMPRESSION_ON)
        os.makedirs(os.path.join(d, "on"))
        nginx = subprocess.Popen(["nginx", "-c", os.path.join(d, "nginx.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(origin, nginx, "nginx")
        n = args.n
        per_req = {}
        for case in CASES:
            tag = case[0]
            short, f1 = run(args.magpie, d, port, origin, case, n)
            long_, f3 = run(args.magpie, d, port, origin, case, 3 * n)
            per_req[tag] = (long_ - short) / (2 * n)
            print("%-6s %8.0f instructions per request (user space; %d vs %d requests)"
                  % (tag, per_req[tag], 3 * n, n))
            for per, fn in top(f1, f3, 2 * n, args.top):
                print("       %8.0f  %s" % (per, fn))
        print("gzip hit / identity hit: %.3f (target <= 1.10); / identity hit with compression "
              "on: %.3f" % (per_req["gzip"] / per_req["hit"], per_req["gzip"] / per_req["hit-on"]))
    finally:
        if nginx:
            stop(nginx, signal.SIGQUIT, 10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
