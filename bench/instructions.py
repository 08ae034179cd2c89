#!/usr/bin/python3
"""Instructions per request, counted by valgrind's callgrind.

Wall-clock figures move with whatever else the machine runs; instruction
counts do not. This runs magpie under callgrind in front of nginx (both on
loopback, in a temp dir), sends N hits (one cached 1 KiB file, from the
memory tier after the first) or N misses (a no-store 1 KiB file, through a
pooled origin connection) over one keep-alive connection, and reports the
user-space instructions (magpie and its libraries) per request. Start-up
and warm-up cancel out: each figure is the difference between a run of
3 * N and a run of N requests, divided by 2 * N. The kernel's share (the
larger one, see docs/PERFORMANCE.md) is not counted.

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


def requests(port, origin, path, n):
    """n GETs of path over one keep-alive connection; checks each answer."""
    req = ("GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "User-Agent: instructions.py\r\nAccept: */*\r\n\r\n" % (origin, path, origin)).encode()
    buf = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        for _ in range(n):
            s.sendall(req)
            while True:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = buf[:end].decode("latin-1")
                    m = re.search(r"(?im)^content-length:\s*(\d+)", head)
                    if not head.startswith("HTTP/1.1 200") or not m:
                        raise RuntimeError("unexpected answer: %r" % head[:200])
                    total = end + 4 + int(m.group(1))
                    if len(buf) >= total:
                        buf = buf[total:]
                        break
                data = s.recv(65536)
                if not data:
                    raise RuntimeError("magpie closed the connection")
                buf += data


def run(magpie, d, port, origin, path, n, tag):
    """Total instructions of one magpie run: warm-up, then n requests of path."""
    out = os.path.join(d, "callgrind.%s.%d" % (tag, n))
    with open(os.path.join(d, "valgrind.log"), "ab") as log:
        p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                              magpie, "-c", os.path.join(d, "magpie.yaml")],
                             stdout=log, stderr=log, cwd=d)
    try:
        wait_port(port, p, "magpie under valgrind")
        requests(port, origin, "/c/f", 2)  # stored, then copied into memory
        requests(port, origin, path, 2)
        requests(port, origin, path, n)
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
        nginx = subprocess.Popen(["nginx", "-c", os.path.join(d, "nginx.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(origin, nginx, "nginx")
        n = args.n
        for tag, path in (("hit", "/c/f"), ("miss", "/nostore/f")):
            short, f1 = run(args.magpie, d, port, origin, path, n, tag)
            long_, f3 = run(args.magpie, d, port, origin, path, 3 * n, tag)
            print("%-4s %8.0f instructions per request (user space; %d vs %d requests)"
                  % (tag, (long_ - short) / (2 * n), 3 * n, n))
            for per, fn in top(f1, f3, 2 * n, args.top):
                print("     %8.0f  %s" % (per, fn))
    finally:
        if nginx:
            stop(nginx, signal.SIGQUIT, 10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
