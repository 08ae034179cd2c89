#!/usr/bin/python3
"""magpie benchmark: magpie against the same nginx served directly.

`make bench` runs this with the optimized build/magpie. It starts Debian's
nginx as the origin on loopback (bench/nginx.conf.in), magpie on a generated
config, and measures each scenario alternately through magpie and against
nginx directly, REPS times, then prints one table (and writes it as Markdown).

Every figure comes with its evidence: the origin's request counter (nginx
stub_status) is read around each measurement, so a "hit" scenario that
reached the origin, or a run with errors, is reported as invalid instead of
as a number. Everything listens on 127.0.0.1; every process started here is
stopped by its PID when the bench ends, fails or is interrupted.
"""

import argparse
import asyncio
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NFILES = 100
BIG = 100 * 1024 * 1024
BIG_FETCHES = 8  # downloads per repetition and side
IDLE_CONNS = 2000
COLLAPSE_CLIENTS = 500
SCALE_CONNS = 10000     # idle keep-alive clients held open during the scale load
SCALE_SOURCES = 10      # 127.0.0.2.. as source addresses, 1,000 connections each
MAX_CONNS = 20000       # magpie's limits.max_connections, as nginx's worker_connections
NOFILE = 65536          # the fd limit the bench (and so every child) asks for
INDEX_OBJECTS = 100000  # distinct cached objects for the index scenario
INDEX_RESTARTS = 3
INDEX_TARGET = 2.0      # seconds: the index rebuilt at start
TEXT = 64 * 1024        # gzip-hit's text objects, NFILES of them
TEXT_BIG = 1 << 20      # gzip-miss's text body, compressed on every request
MISS_CONNS = 4          # gzip-miss: enough to keep magpie's one core busy
ALONE_SECS = 1.0        # gzip-miss: how long each library-alone measurement runs
# wrk's --timeout for the gzip scenarios: nginx compressing every 64 KiB
# answer (about 400/s) keeps some of 50 clients waiting past wrk's own 2 s,
# and wrk leaves those out of the latencies; so they wait, and count
SLOW_TIMEOUT = 30
# gzip-hit's baselines: (wrk label, what, target ratio of magpie's req/s)
GZIP_HIT_BASES = (("static", "gzip_static", 1.2), ("gzip", "gzip on", None))
# gzip-miss's codings: (coding, magpie's default level, the library alone,
# target ratio of magpie's MB/s to it)
CODINGS = (("gzip", "6", "zlib alone", 0.8), ("br", "5", "brotli alone", None),
           ("zstd", "3", "zstd alone", None))
# magpie's compression config for the gzip scenarios: on, everything else default
COMPRESSION_ON = "compression:\n  enabled: true\n"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(step)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def raise_nofile():
    """More fds for us and every child (magpie inherits the limit, it does not
    set its own): scale holds 10,000 connections at once. Root may also raise
    the hard limit; anyone else gets at most the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < NOFILE:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
            return NOFILE
        except (ValueError, OSError):
            pass
    want = NOFILE if hard == resource.RLIM_INFINITY else min(hard, NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def nofile_of(pid):
    """A process's soft RLIMIT_NOFILE, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                v = line.split()[3]
                return float("inf") if v == "unlimited" else int(v)
    raise RuntimeError(f"no open-files limit for pid {pid}")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_status(pid, field):
    """A /proc/PID/status figure in bytes (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (Linux: clear_refs 5); False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---- compressible text ----

SYLLABLES = [c + v for c in "bcdfgklmnprstvz" for v in "aeiou"] + [
    "an", "er", "in", "on", "or", "en", "th", "st", "ing", "ed", "ly", "tion"]


def vocabulary(rng, n=3000):
    """n made-up words, as many syllables as English words have."""
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4)))))
    words = sorted(words)
    rng.shuffle(words)
    return words


class Prose:
    """Generated HTML pages: articles of sentences whose words follow a Zipf
    law over a vocabulary, with markup, links and JSON metadata, as a blog
    page has. Text that compresses like text (gzip -6 about 3x), not a
    repeated byte; the same seed gives the same bytes."""

    def __init__(self, seed=11):
        rng = random.Random(seed)
        self.words = vocabulary(rng)
        acc, self.cum = 0.0, []
        for rank in range(len(self.words)):
            acc += 1.0 / (rank + 1)
            self.cum.append(acc)

    def page(self, seed, size):
        rng = random.Random(seed)
        pick = lambda k: rng.choices(self.words, cum_weights=self.cum, k=k)
        title = lambda k: " ".join(w.capitalize() for w in pick(k))
        out = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
               f"<title>{title(4)}</title>\n"
               '<link rel="stylesheet" href="/static/site.css">\n</head>\n<body>\n'
               '<nav class="site-nav"><ul>\n'
               + "".join(f'<li><a href="/{w}/">{w.capitalize()}</a></li>\n' for w in pick(7))
               + "</ul></nav>\n<main>\n"]
        n = len(out[0])
        post = 0
        while n < size:
            post += 1
            slug = "-".join(pick(3))
            parts = [f'<article id="post-{seed * 1000 + post}" class="post">\n'
                     f'<h2><a href="/posts/{slug}.html">{title(rng.randint(3, 7))}</a></h2>\n'
                     f'<p class="meta">Posted on 2024-{rng.randint(1, 12):02d}-'
                     f'{rng.randint(1, 28):02d} by <a href="/authors/{pick(1)[0]}">'
                     f"{title(2)}</a> &middot; {rng.randint(0, 250)} comments</p>\n"]
            for _ in range(rng.randint(2, 5)):
                sentences = []
                for _ in range(rng.randint(2, 7)):
                    w = pick(rng.randint(5, 22))
                    if len(w) > 8:
                        w[rng.randint(2, len(w) - 3)] += ","
                    sentences.append(" ".join(w).capitalize() + rng.choice(".....?!"))
                parts.append("<p>" + " ".join(sentences) + "</p>\n")
            tags = pick(rng.randint(2, 5))
            parts.append('<ul class="tags">' + "".join(
                f'<li><a href="/tags/{t}">{t}</a></li>' for t in tags) + "</ul>\n")
            parts.append('<script type="application/ld+json">{"@type": "BlogPosting", '
                         f'"id": {seed * 1000 + post}, "slug": "{slug}", "views": '
                         f'{rng.randint(10, 99999)}, "score": {rng.random():.4f}, "tags": ['
                         + ", ".join(f'"{t}"' for t in tags) + "]}</script>\n</article>\n")
            out += parts
            n += sum(map(len, parts))
        return "".join(out).encode()[:size]


def gzip6(data):
    """data as nginx's gzip_comp_level 6 or `gzip -6` would make it."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def decode(coding, body):
    """The identity bytes of body in coding (gzip, br, zstd)."""
    if coding == "gzip":
        return zlib.decompress(body, 31)
    if coding == "br":
        import brotli
        return brotli.decompress(body)
    if coding == "zstd":
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return body


def compressor(coding):
    """A compressor of coding at magpie's default level as the library alone
    runs it: a new stream per body, the whole body in, then the stream's end."""
    if coding == "gzip":
        return gzip6
    if coding == "br":
        import brotli

        def br(data):
            c = brotli.Compressor(quality=5, lgwin=20)
            return c.process(data) + c.finish()
        return br
    if coding == "zstd":
        import zstandard

        def zstd(data):
            c = zstandard.ZstdCompressor(level=3).compressobj()
            return c.compress(data) + c.flush()
        return zstd
    raise ValueError(coding)


def cpu_seconds(pid):
    """User plus system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="magpie-bench-")
        self.procs = []  # (name, Popen) of everything we started
        ncpu = len(os.sched_getaffinity(0))
        self.pinned = ncpu >= 2 and shutil.which("taskset") is not None and not args.no_pin
        if self.pinned:
            cpus = sorted(os.sched_getaffinity(0))
            self.server_cpu, self.client_cpu = cpus[0], cpus[1]
            # the driver (curl, the Python clients) runs beside wrk
            os.sched_setaffinity(0, {self.client_cpu})
        self.nginx = self.magpie = None
        self.origin_port = free_port()
        self.status_port = free_port()
        self.magpie_port = None
        self.problems = []  # misbehaviour seen along the way

    # ---- processes ----

    def server_cmd(self, argv):
        return (["taskset", "-c", str(self.server_cpu)] + argv) if self.pinned else argv

    def client_cmd(self, argv):
        return (["taskset", "-c", str(self.client_cpu)] + argv) if self.pinned else argv

    def spawn(self, name, argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        self.procs.append((name, p))
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10.0):
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop_all(self):
        for _, p in reversed(self.procs):
            self.stop(p)
        self.procs = []

    # ---- the origin ----

    def make_docroot(self):
        www = os.path.join(self.tmp, "www")
        for d in ("1k", "64k", "nostore/1k", "slow"):
            os.makedirs(os.path.join(www, d))
        for i in range(NFILES):
            small = os.urandom(1024)
            for d in ("1k", "nostore/1k"):
                with open(os.path.join(www, d, str(i)), "wb") as f:
                    f.write(small)
            with open(os.path.join(www, "64k", str(i)), "wb") as f:
                f.write(os.urandom(64 * 1024))
        with open(os.path.join(www, "slow", "c"), "wb") as f:
            f.write(os.urandom(64 * 1024))
        with open(os.path.join(www, "many"), "wb") as f:  # every /many/N (index)
            f.write(os.urandom(1024))
        with open(os.path.join(www, "big"), "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(BIG >> 20):
                f.write(chunk)
        self.make_text(www)

    def make_text(self, www):
        """gzip-hit's NFILES pages /text/64k/N, each with the N.gz that
        nginx's gzip_static serves (made at gzip_comp_level's 6), and
        gzip-miss's never-stored 1 MiB page /nostore/text/1m/0."""
        prose = Prose()
        os.makedirs(os.path.join(www, "text", "64k"))
        os.makedirs(os.path.join(www, "nostore", "text", "1m"))
        packed = 0
        for i in range(NFILES):
            page = prose.page(i, TEXT)
            with open(os.path.join(www, "text", "64k", str(i)), "wb") as f:
                f.write(page)
            with open(os.path.join(www, "text", "64k", f"{i}.gz"), "wb") as f:
                packed += f.write(gzip6(page))
        self.text_gz = packed / NFILES  # the mean compressed size
        with open(os.path.join(www, "nostore", "text", "1m", "0"), "wb") as f:
            f.write(prose.page(NFILES, TEXT_BIG))
        log(f"text pages: {TEXT:,} bytes, {self.text_gz:,.0f} gzipped at 6 (mean)")

    def start_nginx(self):
        os.makedirs(os.path.join(self.tmp, "nginx-tmp"), exist_ok=True)
        with open(os.path.join(HERE, "nginx.conf.in")) as f:
            conf = f.read()
        conf = (conf.replace("@USER@", "user root;" if os.geteuid() == 0 else "")
                .replace("@TMP@", self.tmp)
                .replace("@PORT@", str(self.origin_port))
                .replace("@STATUS_PORT@", str(self.status_port)))
        path = os.path.join(self.tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = self.spawn("nginx", self.server_cmd(
            [nginx, "-p", self.tmp, "-e", os.path.join(self.tmp, "nginx-error.log"), "-c", path]))
        wait_port(self.origin_port, self.nginx, "nginx")
        wait_port(self.status_port, self.nginx, "nginx")

    def restart_nginx(self):
        self.stop(self.nginx)
        self.procs = [(n, p) for n, p in self.procs if p is not self.nginx]
        self.start_nginx()

    def origin_requests(self):
        """nginx's request counter, less the status request itself."""
        url = f"http://127.0.0.1:{self.status_port}/"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
        m = re.search(r"server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)", text)
        if not m:
            raise RuntimeError(f"unexpected stub_status answer: {text!r}")
        return int(m.group(3))

    def count_origin(self, fn):
        """Runs fn(); returns (its result, origin requests made meanwhile)."""
        before = self.origin_requests()
        res = fn()
        after = self.origin_requests()
        return res, after - before - 1  # the second status request counts itself

    # ---- magpie ----

    def start_magpie(self, name="magpie", level="warn", extra=""):
        """Starts magpie on a generated config; returns the seconds from exec to
        its port accepting. name picks the config, cache dir and error log
        (index and the gzip scenarios have their own), extra is YAML added
        to the config (the gzip scenarios' compression); max_connections
        leaves room over scale's 10,000 idle clients plus wrk's, the idle
        timeout is nginx's keepalive_timeout, and the cache holds the data
        set. Everything else, the upstream pool included, is magpie's
        default, as a user would run it."""
        if self.magpie_port is None:
            self.magpie_port = free_port()
        cache = "cache" if name == "magpie" else f"{name}-cache"
        cfg = os.path.join(self.tmp, f"{name}.yaml")
        with open(cfg, "w") as f:
            f.write(f"""# generated by bench/run.py
listen:
  - 127.0.0.1:{self.magpie_port}
access_log: "off"
error_log: {self.tmp}/{name}-error.log
log_level: {level}
proxy_name: magpie-bench
limits:
  max_connections: {MAX_CONNS}
  client_idle_timeout: 300s
cache:
  dir: {self.tmp}/{cache}
  max_size: 2GiB
{extra}""")
        self.magpie_as = (name, level, extra)  # what a restart starts again
        chk = subprocess.run([self.args.magpie, "-t", "-c", cfg], capture_output=True, text=True)
        if chk.returncode != 0:
            raise RuntimeError(f"magpie -t rejected the generated config:\n{chk.stderr}")
        t0 = time.monotonic()
        self.magpie = self.spawn("magpie", self.server_cmd([self.args.magpie, "-c", cfg]))
        # a fine poll: index measures this time against a 2 s target
        wait_port(self.magpie_port, self.magpie, "magpie", timeout=60, step=0.002)
        return time.monotonic() - t0

    def stop_magpie(self):
        self.stop(self.magpie)
        self.procs = [(n, p) for n, p in self.procs if p is not self.magpie]

    def restart_magpie(self):
        self.check_magpie("before a restart")
        self.stop_magpie()
        self.start_magpie(*self.magpie_as)

    def check_magpie(self, when):
        """Notes (and survives) a magpie that died: restarts it."""
        if self.magpie.poll() is None:
            return True
        self.problems.append(f"magpie exited with {self.magpie.returncode} {when}")
        log(self.problems[-1])
        self.procs = [(n, p) for n, p in self.procs if p is not self.magpie]
        self.start_magpie(*self.magpie_as)
        return False

    # ---- clients ----

    def target(self, side, path):
        """(connect port, request target) for path through magpie or direct."""
        if side == "magpie":
            return self.magpie_port, f"http://127.0.0.1:{self.origin_port}{path}"
        return self.origin_port, path

    def fetch(self, side, path, sock=None, headers=(), sink=None):
        """One GET with headers (lines) added; returns (status, headers dict,
        body length). sink, a list, gets the body."""
        port, tgt = self.target(side, path)
        own = sock is None
        s = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
        extra = "".join(h + "\r\n" for h in headers)
        try:
            s.sendall(f"GET {tgt} HTTP/1.1\r\nHost: 127.0.0.1:{self.origin_port}\r\n{extra}\r\n"
                      .encode())
            return read_response(s, sink)
        finally:
            if own:
                s.close()

    def docfile(self, path):
        return os.path.join(self.tmp, "www", path.lstrip("/"))

    def check_coded(self, side, path, coding, ident, sock=None):
        """One GET of path with Accept-Encoding: coding. Returns (what is wrong
        with the answer: its status, a Content-Encoding other than coding, a
        body that does not decode to the docroot's file ident; or "", its
        headers, its body's length)."""
        got = []
        st, hdrs, n = self.fetch(side, path, sock, (f"Accept-Encoding: {coding}",), got)
        ce = hdrs.get("content-encoding")
        if st != 200 or ce != coding:
            return f"status {st}, Content-Encoding {ce}, not {coding}", hdrs, n
        with open(self.docfile(ident), "rb") as f:
            want = f.read()
        try:
            body = decode(coding, b"".join(got))
        except Exception as e:  # whatever the decoder raises: a corrupt body
            return f"the {coding} body does not decode: {e}", hdrs, n
        if body != want:
            return f"the body decodes to {len(body):,} bytes unlike {ident}", hdrs, n
        return "", hdrs, n

    def warm(self, prefix, n=NFILES, coding=None):
        """Fetches prefix/0..n-1 through magpie twice; the second pass must hit.
        With coding, each is asked for with Accept-Encoding: coding and must
        come in it, decoding to the file."""
        port, _ = self.target("magpie", "/")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            for rnd in range(2):
                for i in range(n):
                    if coding:
                        why, hdrs, _ = self.check_coded("magpie", f"{prefix}{i}", coding,
                                                        f"{prefix}{i}", s)
                    else:
                        st, hdrs, _ = self.fetch("magpie", f"{prefix}{i}", s)
                        why = f"status {st}" if st != 200 else ""
                    if why:
                        raise RuntimeError(f"warming {prefix}{i}: {why}")
                    if rnd == 1 and hdrs.get("x-cache") != "HIT":
                        raise RuntimeError(f"{prefix}{i} is not a hit after warming: "
                                           f"X-Cache {hdrs.get('x-cache')}"
                                           + (f", Cache-Status {hdrs.get('cache-status')}"
                                              if coding else ""))

    def wrk(self, side, prefix, script="absolute.lua", duration=None, headers=(), conns=None,
            timeout=None, **env):
        """One wrk run over a Lua generator; headers are wrk -H lines, conns
        its connections (--connections), timeout its --timeout in seconds
        (wrk's own: 2), env BENCH_* settings for the script."""
        port, tgt = self.target(side, prefix)
        duration = duration or self.args.duration
        env = {**os.environ, "BENCH_PREFIX": tgt, "BENCH_FILES": str(NFILES), **env}
        argv = self.client_cmd(["wrk", "-t1", f"-c{conns or self.args.connections}",
                                f"-d{duration}s", "--latency", "-s",
                                os.path.join(HERE, script)]
                               + [a for h in headers for a in ("-H", h)]
                               + ([f"--timeout={timeout}s"] if timeout else [])
                               + [f"http://127.0.0.1:{port}/"])
        out = subprocess.run(argv, env=env, capture_output=True, text=True,
                             timeout=duration + 30)
        if out.returncode != 0:
            raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
        return parse_wrk(out.stdout)

    # ---- scenarios ----

    def wrk_checked(self, name, side, prefix, expect_origin, max_bytes=None, inflight=0, **kw):
        """One wrk run with its evidence: the origin requests it made, errors;
        with max_bytes, responses larger than that on average (compressed
        ones are far smaller). inflight origin requests may be over one per
        request: those of the requests wrk left unanswered at its end, which
        count when the run has few (gzip-miss). kw goes to wrk."""
        res, origin = self.count_origin(lambda: self.wrk(side, prefix, **kw))
        res["origin"] = origin
        res["per_req"] = origin / res["requests"] if res["requests"] else float("nan")
        res["per_resp"] = res["bytes"] / res["requests"] if res["requests"] else float("nan")
        bad = []
        if max_bytes and not res["per_resp"] <= max_bytes:
            bad.append(f"{res['per_resp']:,.0f} bytes read per response: not compressed")
        if res["errors"]:
            bad.append(f"{res['errors']} socket errors")
        if res["non2xx"]:
            bad.append(f"{res['non2xx']} non-2xx responses")
        if side == "magpie" and expect_origin == 0 and origin > 0:
            bad.append(f"a hit scenario reached the origin {origin} times")
        slack = inflight / res["requests"] if res["requests"] else 0
        if side == "magpie" and expect_origin == 1 and not 0.95 <= res["per_req"] <= 1.05 + slack:
            bad.append(f"{res['per_req']:.3f} origin requests per request, not 1")
        if side == "magpie" and not self.check_magpie(f"during {name}"):
            bad.append("magpie died")
        res["invalid"] = "; ".join(bad)
        return res

    def sc_wrk(self, name, prefix, expect_origin, sides=None, **kw):
        """hit-1k, hit-64k, miss-1k: wrk through magpie, then direct, REPS
        times. sides, (label, side, prefix) each, replaces magpie and direct
        on prefix (gzip-hit's three); kw goes to wrk_checked."""
        sides = sides or (("magpie", "magpie", prefix), ("direct", "direct", prefix))
        runs = {label: [] for label, _, _ in sides}
        for rep in range(self.args.reps):
            for label, side, pre in sides:
                res = self.wrk_checked(name, side, pre, expect_origin, **kw)
                runs[label].append(res)
                log(f"{name} #{rep + 1} {label}: {res['rps']:.0f} req/s, p50 {res['p50']:.3f} ms, "
                    f"p99 {res['p99']:.3f} ms, origin {res['origin']}/{res['requests']}"
                    + (f", {res['per_resp']:,.0f} B/response" if kw else "")
                    + (f"  INVALID: {res['invalid']}" if res["invalid"] else ""))
        return runs

    def sc_gzip_hit(self):
        """gzip-hit: the 64 KiB pages asked for with Accept-Encoding: gzip,
        magpie serving the gzip variants it stored (warmed and checked: hits
        in gzip decoding to the pages) against nginx compressing each on the
        fly (/gzip/) and nginx's gzip_static sending the N.gz (/gzip_static/)."""
        self.warm("/text/64k/", coding="gzip")
        for prefix in ("/gzip/64k/", "/gzip_static/64k/"):
            why, _, _ = self.check_coded("direct", f"{prefix}0", "gzip", "/text/64k/0")
            if why:
                raise RuntimeError(f"nginx's {prefix}0: {why}")
        return self.sc_wrk("gzip-hit", "/text/64k/", 0,
                           (("magpie", "magpie", "/text/64k/"), ("gzip", "direct", "/gzip/64k/"),
                            ("static", "direct", "/gzip_static/64k/")),
                           headers=("Accept-Encoding: gzip",), max_bytes=TEXT * 0.6,
                           timeout=SLOW_TIMEOUT)

    def sc_gzip_miss(self):
        """gzip-miss: the never-stored 1 MiB page through magpie with
        Accept-Encoding: gzip, br and zstd, so that every request is a miss
        magpie compresses: MB/s of input (requests/s x 1 MiB). Against it the
        library alone compresses the same page at the same level, a new
        stream per body, on the core magpie runs on. Meanwhile nginx runs on
        the clients' core, so that magpie's core does magpie's work only."""
        path = "/nostore/text/1m/"
        with open(self.docfile(path + "0"), "rb") as f:
            page = f.read()
        runs = {}
        if self.pinned:
            os.sched_setaffinity(self.nginx.pid, {self.client_cpu})
        try:
            for coding, level, alone, _ in CODINGS:
                try:
                    squeeze = compressor(coding)
                except ImportError as e:
                    self.problems.append(f"gzip-miss {coding} not measured: {e}")
                    log(self.problems[-1])
                    continue
                (why, _, packed), origin = self.count_origin(
                    lambda: self.check_coded("magpie", path + "0", coding, path + "0"))
                if why or origin != 1:
                    raise RuntimeError(f"gzip-miss {coding}: {why or f'{origin} origin requests'}")
                log(f"gzip-miss: magpie's {coding} makes the page {len(page) / packed:.2f}x "
                    "smaller")
                runs[coding] = {"magpie": [], "alone": []}
                for rep in range(self.args.reps):
                    res = self.miss_once(coding, path)
                    runs[coding]["magpie"].append(res)
                    log(f"gzip-miss #{rep + 1} magpie {coding} {level}: {res['mbps']:.1f} MB/s "
                        f"({res['rps']:.1f} req/s), magpie's CPU {res['cpu']:.0%}, origin "
                        f"{res['origin']}/{res['requests']}"
                        + (f"  INVALID: {res['invalid']}" if res["invalid"] else ""))
                    res = self.alone(squeeze, page)
                    runs[coding]["alone"].append(res)
                    log(f"gzip-miss #{rep + 1} {alone} {level}: {res['mbps']:.1f} MB/s "
                        f"({res['ratio']:.2f}x smaller)")
        finally:
            if self.pinned:
                os.sched_setaffinity(self.nginx.pid, {self.server_cpu})
        return runs

    def miss_once(self, coding, path):
        """One wrk run of gzip-miss through magpie, with magpie's CPU share."""
        pid, t0 = self.magpie.pid, time.monotonic()
        cpu0 = cpu_seconds(pid)
        res = self.wrk_checked("gzip-miss", "magpie", path, 1, max_bytes=TEXT_BIG * 0.6,
                               inflight=MISS_CONNS, headers=(f"Accept-Encoding: {coding}",),
                               conns=MISS_CONNS, timeout=SLOW_TIMEOUT, BENCH_FILES="1")
        try:
            res["cpu"] = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        except OSError:  # it died; wrk_checked said so and started another
            res["cpu"] = float("nan")
        res["mbps"] = res["rps"] * TEXT_BIG / 1e6
        return res

    def alone(self, squeeze, page):
        """MB/s of input of squeeze(page) over ALONE_SECS, one body after
        another, on the core magpie runs on (this process moves there
        meanwhile; nothing else runs on it then)."""
        if self.pinned:
            os.sched_setaffinity(0, {self.server_cpu})
        try:
            squeeze(page)  # the library's first-call costs
            n, t0 = 0, time.perf_counter()
            while True:
                out = squeeze(page)
                n += 1
                secs = time.perf_counter() - t0
                if secs >= ALONE_SECS:
                    break
        finally:
            if self.pinned:
                os.sched_setaffinity(0, {self.client_cpu})
        return {"mbps": n * len(page) / secs / 1e6, "ratio": len(page) / len(out),
                "invalid": ""}

    def curl_big(self, side):
        port, tgt = self.target(side, "/big")
        hdr = os.path.join(self.tmp, "big.hdr")
        argv = ["curl", "-sS", "-o", "/dev/null", "-D", hdr, "-w",
                "%{http_code} %{size_download} %{speed_download}"]
        if side == "magpie":
            argv += ["-x", f"http://127.0.0.1:{port}"]
        argv.append(f"http://127.0.0.1:{self.origin_port}/big")
        out = subprocess.run(self.client_cmd(argv), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"curl /big via {side}: {out.stderr}")
        code, size, speed = out.stdout.split()
        with open(hdr) as f:
            xcache = re.search(r"^x-cache:\s*(\S+)", f.read(), re.I | re.M)
        return int(code), int(size), float(speed), xcache.group(1) if xcache else None

    def sc_big(self):
        # warm: the first fetch stores it (its peak RSS is logged, not judged)
        hwm_ok = reset_hwm(self.magpie.pid)
        rss0 = proc_status(self.magpie.pid, "VmRSS")
        code, size, speed, xc = self.curl_big("magpie")
        if code != 200 or size != BIG or xc != "MISS":
            raise RuntimeError(f"warming /big: status {code}, {size} bytes, X-Cache {xc}")
        if hwm_ok:
            log(f"big warm-up (miss, stored): {speed / 1e6:.0f} MB/s, peak RSS growth "
                f"{(proc_status(self.magpie.pid, 'VmHWM') - rss0) / 1024:.0f} KiB")
        runs = {"magpie": [], "direct": []}
        pid = self.magpie.pid
        for rep in range(max(self.args.reps, 5)):  # one download is ~50 ms: noisy
            hwm_ok = reset_hwm(pid)
            rss0 = proc_status(pid, "VmRSS")
            fetches = {"magpie": [], "direct": []}
            for _ in range(BIG_FETCHES):  # interleaved, so drift hits both sides
                for side in ("magpie", "direct"):
                    fetches[side].append(self.count_origin(lambda: self.curl_big(side)))
            growth = proc_status(pid, "VmHWM") - rss0 if hwm_ok else float("nan")
            for side in ("magpie", "direct"):
                got = fetches[side]
                origin = sum(o for _, o in got)
                speed = sum(f[1] for f, _ in got) / sum(f[1] / f[2] for f, _ in got)
                bad = []
                for (code, size, _, xc), _ in got:
                    if code != 200 or size != BIG:
                        bad.append(f"status {code}, {size} bytes")
                    if side == "magpie" and xc != "HIT":
                        bad.append(f"not a hit: X-Cache {xc}")
                if side == "magpie" and origin > 0:
                    bad.append(f"{origin} origin requests for a cached file")
                if side == "magpie" and not hwm_ok:
                    bad.append("cannot reset VmHWM (clear_refs)")
                res = {"mbps": speed / 1e6, "origin": origin, "per_req": origin / len(got),
                       "hwm": growth, "invalid": "; ".join(bad[:1])}
                runs[side].append(res)
                log(f"big #{rep + 1} {side}: {res['mbps']:.0f} MB/s over {len(got)} downloads, "
                    f"origin {origin}"
                    + (f", peak RSS growth {growth / 1024:.0f} KiB" if side == "magpie" else "")
                    + (f"  INVALID: {res['invalid']}" if bad else ""))
        return runs

    def idle_once(self, side):
        """RSS growth per idle keep-alive connection that made one request."""
        if side == "magpie":
            self.restart_magpie()  # a fresh heap: no free lists from earlier scenarios
            pid = self.magpie.pid
        else:
            self.restart_nginx()  # the same for the origin
            pid = self.nginx.pid
        port, _ = self.target(side, "/")
        self.fetch(side, "/1k/0")  # the first request's one-off allocations
        time.sleep(0.3)
        rss0 = proc_status(pid, "VmRSS")
        socks, bad = [], []
        origin = 0
        try:
            def open_all():
                for i in range(IDLE_CONNS):
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    socks.append(s)
                    st, _, n = self.fetch(side, f"/1k/{i % NFILES}", s)
                    if st != 200 or n != 1024:
                        bad.append(f"connection {i}: status {st}, {n} bytes")
                        break
            _, origin = self.count_origin(open_all)
            time.sleep(0.5)
            rss1 = proc_status(pid, "VmRSS")
            # the connections are still open: a request on the last one works
            st, _, _ = self.fetch(side, "/1k/0", socks[-1])
            if st != 200:
                bad.append(f"an idle connection answered {st}")
        finally:
            for s in socks:
                s.close()
        if side == "magpie" and origin > 0:
            bad.append(f"{origin} origin requests for cached files")
        return {"per_conn": (rss1 - rss0) / IDLE_CONNS, "origin": origin,
                "per_req": origin / IDLE_CONNS, "invalid": "; ".join(bad[:1])}

    def sc_idle(self):
        runs = {"magpie": [], "direct": []}
        for rep in range(self.args.reps):
            for side in ("magpie", "direct"):
                res = self.idle_once(side)
                runs[side].append(res)
                log(f"idle #{rep + 1} {side}: {res['per_conn']:.0f} B per connection"
                    + (f"  INVALID: {res['invalid']}" if res["invalid"] else ""))
        return runs

    def collapse_once(self, side, rep):
        port, tgt = self.target(side, f"/slow/c?rep={rep}")  # a URL nobody asked for yet
        if side == "magpie":
            self.check_magpie("before collapse")
        res, origin = self.count_origin(
            lambda: asyncio.run(burst(port, tgt, self.origin_port, COLLAPSE_CLIENTS)))
        bad = []
        ok = sum(1 for st, n, _ in res if st == 200 and n == 64 * 1024)
        if ok != COLLAPSE_CLIENTS:
            bad.append(f"{COLLAPSE_CLIENTS - ok} of {COLLAPSE_CLIENTS} failed")
        kinds = {}
        for _, _, cs in res:
            kinds[cs] = kinds.get(cs, 0) + 1
        if side == "magpie" and not self.check_magpie("during collapse"):
            bad.append("magpie died")
        return {"origin": origin, "per_req": origin / COLLAPSE_CLIENTS, "ok": ok,
                "kinds": kinds, "invalid": "; ".join(bad)}

    def sc_collapse(self):
        runs = {"magpie": [], "direct": []}
        for rep in range(self.args.reps):
            for side in ("magpie", "direct"):
                res = self.collapse_once(side, rep)
                runs[side].append(res)
                log(f"collapse #{rep + 1} {side}: {res['origin']} origin requests, "
                    f"{res['ok']} complete answers"
                    + (f", {res['kinds']}" if side == "magpie" else "")
                    + (f"  INVALID: {res['invalid']}" if res["invalid"] else ""))
        return runs

    def hold(self, side, n, socks):
        """Appends n keep-alive connections to socks, each having made one
        request (a hit through magpie) and left open, so they are real idle
        clients. They come from SCALE_SOURCES loopback addresses, the port
        picked at connect time (IP_BIND_ADDRESS_NO_PORT), so that one source
        address's ephemeral ports (and the TIME_WAITs of earlier repetitions)
        are never the limit. Returns what went wrong (the first problem)."""
        port, _ = self.target(side, "/")
        for i in range(n):
            s = socket.socket()
            socks.append(s)  # the caller closes them, whatever happens here
            try:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((f"127.0.0.{2 + i % SCALE_SOURCES}", 0))
                s.settimeout(10)
                s.connect(("127.0.0.1", port))
                st, hdrs, nbytes = self.fetch(side, f"/1k/{i % NFILES}", s)
            except (OSError, RuntimeError) as e:
                return f"connection {i + 1} of {n}: {e}"
            if st != 200 or nbytes != 1024:
                return f"connection {i + 1}: status {st}, {nbytes} bytes"
            if side == "magpie" and hdrs.get("x-cache") != "HIT":
                return f"connection {i + 1}: not a hit (X-Cache {hdrs.get('x-cache')})"
        return ""

    def ask_again(self, side, socks, every=100):
        """A second request on every 100th held connection: they still answer
        (hits through magpie)."""
        for i in range(0, len(socks), every):
            try:
                st, hdrs, _ = self.fetch(side, f"/1k/{i % NFILES}", socks[i])
            except (OSError, RuntimeError) as e:
                return f"held connection {i + 1} failed after the load: {e}"
            if st != 200 or (side == "magpie" and hdrs.get("x-cache") != "HIT"):
                return (f"held connection {i + 1} answered {st} "
                        f"(X-Cache {hdrs.get('x-cache')}) after the load")
        return ""

    def scale_once(self, side):
        """hit-1k's wrk load while SCALE_CONNS idle keep-alive clients are held
        open; then counts the held ones still open (the evidence that the
        server kept them all) and asks every 100th for another file."""
        pid = (self.magpie if side == "magpie" else self.nginx).pid
        bad = []
        need = SCALE_CONNS + self.args.connections + 100
        for who, p in (("the bench's", os.getpid()), (f"{side}'s", pid)):
            if nofile_of(p) < need:
                bad.append(f"{who} fd limit {nofile_of(p)} < {need}")
        socks = []
        try:
            t0 = time.monotonic()
            why, origin = self.count_origin(lambda: self.hold(side, SCALE_CONNS, socks))
            opened = time.monotonic() - t0
            bad.append(why)
            if side == "magpie" and origin > 0:
                bad.append(f"{origin} origin requests for the held clients' cached files")
            fds = open_fds(pid)  # the server's side of them, for the log
            res = self.wrk_checked("scale", side, "/1k/", 0)
            bad.append(res["invalid"])
            held = still_open(socks)
            if held < SCALE_CONNS:
                bad.append(f"{SCALE_CONNS - held:,} of {SCALE_CONNS:,} held connections "
                           "not open at the end")
            bad.append(self.ask_again(side, socks))
        finally:
            t1 = time.monotonic()
            for s in socks:
                s.close()
            closing = time.monotonic() - t1
        res.update(held=held, opened=opened, closing=closing, fds=fds,
                   invalid="; ".join([b for b in bad if b][:1]))
        return res

    def sc_scale(self, base):
        """scale: magpie then direct, REPS times. base is hit-1k's magpie runs
        of this bench when it ran; else one plain run here gives magpie's p99
        without the idle clients."""
        t0 = time.monotonic()
        if not base:
            res = self.wrk_checked("scale", "magpie", "/1k/", 0)
            log(f"scale baseline magpie (no idle clients): {res['rps']:.0f} req/s, "
                f"p99 {res['p99']:.3f} ms"
                + (f"  INVALID: {res['invalid']}" if res["invalid"] else ""))
            base = [res]
        runs = {"magpie": [], "direct": []}
        for rep in range(self.args.reps):
            for side in ("magpie", "direct"):
                if side == "magpie":
                    self.check_magpie("before scale")
                res = self.scale_once(side)
                runs[side].append(res)
                log(f"scale #{rep + 1} {side}: {res['held']:,} of {SCALE_CONNS:,} held "
                    f"(opened in {res['opened']:.1f} s, server fds {res['fds']:,}, closed in "
                    f"{res['closing']:.1f} s); {res['rps']:.0f} req/s, p50 {res['p50']:.3f} ms, "
                    f"p99 {res['p99']:.3f} ms, origin {res['origin']}/{res['requests']}"
                    + (f"  INVALID: {res['invalid']}" if res["invalid"] else ""))
        log(f"scale took {time.monotonic() - t0:.0f} s")
        return runs, base

    def fill_many(self):
        """INDEX_OBJECTS distinct /many/N through magpie (bench/many.lua): each
        one a miss that magpie stores. Returns (what went wrong, origin
        requests per request: a little under 1, the slack being hits)."""
        t0 = time.monotonic()
        # many.lua ends wrk once it is done; -d only bounds a fill that stalls
        res, origin = self.count_origin(lambda: self.wrk(
            "magpie", "/many/", "many.lua", duration=120, BENCH_COUNT=str(INDEX_OBJECTS)))
        log(f"index fill: {res['requests']:,} requests in {time.monotonic() - t0:.1f} s "
            f"({res['rps']:.0f} req/s), {origin:,} origin requests")
        per_req = origin / res["requests"] if res["requests"] else float("nan")
        if res["errors"] or res["non2xx"]:
            return (f"fill: {res['errors']} socket errors, {res['non2xx']} non-2xx responses",
                    per_req)
        if origin < INDEX_OBJECTS:
            return f"fill: {origin:,} origin requests for {INDEX_OBJECTS:,} new URLs", per_req
        if self.magpie.poll() is not None:
            return f"fill: magpie exited with {self.magpie.returncode}", per_req
        return "", per_req

    def index_start(self, errlog):
        """One start on the filled cache: (start-to-listen s, the scan's
        figures from the summary line it logs at info, or None)."""
        off = os.path.getsize(errlog) if os.path.exists(errlog) else 0
        listen = self.start_magpie("index", level="info")
        with open(errlog, errors="replace") as f:
            f.seek(off)
            text = f.read()
        m = re.search(r"cache: \S+: indexed (\d+) objects, (\d+) bytes in ([\d.]+) s; "
                      r"removed (\d+) invalid, (\d+) temporary", text)
        if not m:
            return listen, None, text
        n, nbytes, secs, invalid, tmp = m.groups()
        return listen, {"objects": int(n), "bytes": int(nbytes), "secs": float(secs),
                        "removed": int(invalid) + int(tmp)}, text

    def sc_index(self):
        """index: the start-up scan of INDEX_OBJECTS cached objects. magpie gets
        a cache dir and error log of its own (so the count is just these),
        filled through it, then is restarted INDEX_RESTARTS times on it.
        The page cache is warm (the files were just written): dropping it
        would touch everyone on the machine."""
        t0 = time.monotonic()
        self.check_magpie("before index")
        self.stop_magpie()
        errlog = os.path.join(self.tmp, "index-error.log")
        runs = []
        try:
            self.start_magpie("index")
            why, per_req = self.fill_many()
            for rep in range(INDEX_RESTARTS):
                self.stop_magpie()  # SIGTERM by PID; nothing is in flight
                listen, scan, text = self.index_start(errlog)
                bad = [why] if why else []
                if scan is None:
                    bad.append("no index summary line in the error log: "
                               + (text.strip().splitlines() or ["(empty)"])[-1])
                    scan = {"objects": 0, "bytes": 0, "secs": float("nan"), "removed": 0}
                elif scan["objects"] < INDEX_OBJECTS:
                    bad.append(f"{scan['objects']:,} of {INDEX_OBJECTS:,} objects indexed "
                               f"({scan['bytes']:,} bytes, {scan['removed']} removed)")
                res = dict(scan, listen=listen, per_req=per_req, invalid="; ".join(bad[:1]))
                runs.append(res)
                log(f"index restart #{rep + 1}: {res['objects']:,} objects, {res['bytes']:,} "
                    f"bytes indexed in {res['secs']:.3f} s (log); exec to listening "
                    f"{listen:.3f} s" + (f"  INVALID: {res['invalid']}" if bad else ""))
        finally:
            self.stop_magpie()
            self.start_magpie()  # the usual one, for whatever comes next
        log(f"index took {time.monotonic() - t0:.0f} s")
        return runs


def read_response(s, sink=None):
    """Reads one response (Content-Length or chunked) from a blocking socket;
    returns (status, headers dict, body length). sink, a list, gets the body."""
    buf = bytearray()

    def line(what):
        while b"\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"connection closed {what}")
            buf.extend(chunk)
        end = buf.index(b"\r\n")
        text = bytes(buf[:end]).decode("latin-1")
        del buf[:end + 2]
        return text

    def body(left):
        n = 0
        while left > 0:
            if not buf:
                chunk = s.recv(min(left, 1 << 20))
                if not chunk:
                    raise RuntimeError("connection closed mid-body")
                buf.extend(chunk)
            piece = bytes(buf[:left])
            del buf[:left]
            if sink is not None:
                sink.append(piece)
            left -= len(piece)
            n += len(piece)
        return n

    status = int(line("before the response head").split()[1])
    hdrs = {}
    while True:
        h = line("before the response head")
        if not h:
            break
        k, _, v = h.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "chunked" not in hdrs.get("transfer-encoding", "").lower():
        return status, hdrs, body(int(hdrs.get("content-length", "0")))
    n = 0
    while True:
        size = int(line("mid-body").split(";")[0], 16)
        if size == 0:
            while line("in the trailer"):
                pass
            return status, hdrs, n
        n += body(size)
        line("mid-body")  # the CRLF after the chunk


async def burst(port, target, origin_port, n):
    """n connections open first, then all send the same GET at once."""
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
                                   for _ in range(n)))
    req = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{origin_port}\r\n\r\n".encode()
    for _, w in conns:
        w.write(req)

    async def one(r, w):
        try:
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            hdrs = {l.partition(":")[0].lower(): l.partition(":")[2].strip() for l in lines[1:]}
            body = await asyncio.wait_for(r.readexactly(int(hdrs.get("content-length", 0))), 30)
            return int(lines[0].split()[1]), len(body), hdrs.get("cache-status", "-")
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError,
                asyncio.LimitOverrunError) as e:
            return 0, 0, type(e).__name__
        finally:
            w.close()

    return await asyncio.gather(*(one(r, w) for r, w in conns))


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux


def still_open(socks):
    """How many of socks are still open, idle keep-alive connections: neither
    readable (an EOF or stray bytes) nor hung up nor in error. poll(), not
    select(): 10,000 fds are past FD_SETSIZE."""
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN | select.POLLRDHUP)
    return len(socks) - len(p.poll(0))


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    def lat(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)([KMGT]?)B read", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if not m or not rps:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)), "p50": lat(50),
            "bytes": float(m.group(4)) * 1024 ** " KMGT".index(m.group(5) or " "),
            "p99": lat(99), "errors": sum(map(int, errs.groups())) if errs else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


# ---- the table ----

def med(runs, key):
    vals = [r[key] for r in runs]
    return statistics.median(vals) if vals else float("nan")


def ratios(runs, key, base="direct"):
    return statistics.median(m[key] / d[key] for m, d in zip(runs["magpie"], runs[base]))


def fmt(x, spec):
    return "n/a" if x != x else format(x, spec)


def build_rows(results):
    """(scenario, figure, magpie, direct, ratio, origin/req, target, verdict) rows."""
    rows = []

    def invalid(runs):
        bad = [r["invalid"] for side in runs.values() for r in side if r["invalid"]]
        return bad[0] if bad else ""

    def verdict(ok, bad):
        return f"INVALID: {bad}" if bad else ("met" if ok else "MISSED")

    for name, target in (("hit-1k", 1.25), ("hit-64k", 1.05), ("miss-1k", 0.55)):
        runs = results.get(name)
        if not runs:
            continue
        bad = invalid(runs)
        r = ratios(runs, "rps")
        per = med(runs["magpie"], "per_req")
        rows.append((name, "req/s", fmt(med(runs["magpie"], "rps"), ",.0f"),
                     fmt(med(runs["direct"], "rps"), ",.0f"), fmt(r, ".2f") + "×",
                     fmt(per, ".3f"), f"≥ {target}×", verdict(r >= target, bad)))
        mp99, dp99 = med(runs["magpie"], "p99"), med(runs["direct"], "p99")
        rows.append((name, "p50 / p99 ms",
                     f"{fmt(med(runs['magpie'], 'p50'), '.2f')} / {fmt(mp99, '.2f')}",
                     f"{fmt(med(runs['direct'], 'p50'), '.2f')} / {fmt(dp99, '.2f')}",
                     fmt(mp99 / dp99, ".2f") + "× (p99)", "",
                     "p99 ≤ direct" if name.startswith("hit") else "—",
                     verdict(mp99 <= dp99, bad) if name.startswith("hit") else ""))
    runs = results.get("big")
    if runs:
        bad = invalid(runs)
        r = ratios(runs, "mbps")
        hwm = max(x["hwm"] for x in runs["magpie"])
        rows.append(("big", "MB/s (100 MiB hit)", fmt(med(runs["magpie"], "mbps"), ",.0f"),
                     fmt(med(runs["direct"], "mbps"), ",.0f"), fmt(r, ".2f") + "×",
                     fmt(med(runs["magpie"], "per_req"), ".3f"), "≥ 1.0×",
                     verdict(r >= 1.0, bad)))
        rows.append(("big", "peak RSS growth", fmt(hwm / 1024, ",.0f") + " KiB (max)", "", "",
                     "", "≤ 2 MiB", verdict(hwm <= 2 * 1024 * 1024, bad)))
    runs = results.get("idle")
    if runs:
        bad = invalid(runs)
        m = med(runs["magpie"], "per_conn")
        rows.append(("idle", f"RSS per idle conn ({IDLE_CONNS:,})", fmt(m, ",.0f") + " B",
                     fmt(med(runs["direct"], "per_conn"), ",.0f") + " B", "",
                     fmt(med(runs["magpie"], "per_req"), ".3f"), "≤ 512 B",
                     verdict(m <= 512, bad)))
    runs = results.get("collapse")
    if runs:
        bad = invalid(runs)
        m = max(x["origin"] for x in runs["magpie"])
        rows.append(("collapse", f"origin requests ({COLLAPSE_CLIENTS} clients)",
                     f"{m} (max)", fmt(med(runs["direct"], "origin"), ".0f"), "",
                     fmt(m / COLLAPSE_CLIENTS, ".3f"), "= 1", verdict(m == 1, bad)))
    runs = results.get("scale")
    if runs:
        bad = invalid(runs)
        n = f"{SCALE_CONNS:,} idle open"
        r = ratios(runs, "rps")
        rows.append(("scale", f"req/s, {n}", fmt(med(runs["magpie"], "rps"), ",.0f"),
                     fmt(med(runs["direct"], "rps"), ",.0f"), fmt(r, ".2f") + "×",
                     fmt(med(runs["magpie"], "per_req"), ".3f"), "—",
                     f"INVALID: {bad}" if bad else ""))
        mp99, dp99 = med(runs["magpie"], "p99"), med(runs["direct"], "p99")
        rows.append(("scale", f"p50 / p99 ms, {n}",
                     f"{fmt(med(runs['magpie'], 'p50'), '.2f')} / {fmt(mp99, '.2f')}",
                     f"{fmt(med(runs['direct'], 'p50'), '.2f')} / {fmt(dp99, '.2f')}",
                     fmt(mp99 / dp99, ".2f") + "× (p99)", "", "p99 ≤ direct's, both with "
                     f"{SCALE_CONNS:,} open", verdict(mp99 <= dp99, bad)))
        base = results.get("scale-base")
        if base:
            bp99 = med(base, "p99")
            rows.append(("scale", f"magpie p99 ms, 0 / {n}", f"{fmt(bp99, '.2f')} / "
                         f"{fmt(mp99, '.2f')}", "", fmt(mp99 / bp99, ".2f") + "×", "", "—",
                         ""))
    def against(target, r, bad):
        """(target, result) cells for a ratio r; without a target only the evidence."""
        if target is None:
            return "—", f"INVALID: {bad}" if bad else ""
        return f"≥ {target}×", verdict(r >= target, bad)

    runs = results.get("gzip-hit")
    if runs:
        per = fmt(med(runs["magpie"], "per_req"), ".3f")
        for base, what, target in GZIP_HIT_BASES:
            bad = invalid({"magpie": runs["magpie"], base: runs[base]})
            r = ratios(runs, "rps", base)
            rows.append(("gzip-hit", f"req/s vs nginx {what}",
                         fmt(med(runs["magpie"], "rps"), ",.0f"),
                         f"{fmt(med(runs[base], 'rps'), ',.0f')} ({what})", fmt(r, ".2f") + "×",
                         per, *against(target, r, bad)))
            mp99, dp99 = med(runs["magpie"], "p99"), med(runs[base], "p99")
            rows.append(("gzip-hit", f"p50 / p99 ms vs nginx {what}",
                         f"{fmt(med(runs['magpie'], 'p50'), '.2f')} / {fmt(mp99, '.2f')}",
                         f"{fmt(med(runs[base], 'p50'), '.2f')} / {fmt(dp99, '.2f')} ({what})",
                         fmt(mp99 / dp99, ".2f") + "× (p99)", "", "—", ""))
    for coding, level, alone, target in CODINGS:
        runs = results.get("gzip-miss", {}).get(coding)
        if not runs:
            continue
        r = ratios(runs, "mbps", "alone")
        rows.append(("gzip-miss", f"MB/s of input, {coding} {level}, {MISS_CONNS} clients",
                     fmt(med(runs["magpie"], "mbps"), ",.1f"),
                     f"{fmt(med(runs['alone'], 'mbps'), ',.1f')} ({alone})", fmt(r, ".2f") + "×",
                     fmt(med(runs["magpie"], "per_req"), ".3f"),
                     *against(target, r, invalid(runs))))
    runs = results.get("index")
    if runs:
        bad = next((r["invalid"] for r in runs if r["invalid"]), "")
        n = min(r["objects"] for r in runs)
        secs, listen = med(runs, "secs"), med(runs, "listen")
        rows.append(("index", "objects indexed at start", f"{n:,} (min)", "", "",
                     fmt(med(runs, "per_req"), ".3f"), f"{INDEX_OBJECTS:,}",
                     verdict(n >= INDEX_OBJECTS, bad)))
        rows.append(("index", "index time (log, warm page cache)", fmt(secs, ".3f") + " s",
                     "", "", "", f"< {INDEX_TARGET:g} s", verdict(secs < INDEX_TARGET, bad)))
        rows.append(("index", "exec to listening", fmt(listen, ".3f") + " s", "", "", "",
                     f"< {INDEX_TARGET:g} s", verdict(listen < INDEX_TARGET, bad)))
    return rows


HEADER = ("scenario", "figure", "magpie", "nginx direct", "ratio", "origin req/client req",
          "target", "result")


def text_table(rows):
    widths = [max(len(str(r[i])) for r in rows + [HEADER]) for i in range(len(HEADER))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows])


def md_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def machine_note(b):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, magpie {rev}, "
            f"{nginx_v.replace('nginx version: ', '')}, wrk 4 (1 thread, "
            f"{b.args.connections} connections, {b.args.duration} s), "
            f"{len(os.sched_getaffinity(0)) if not b.pinned else 2} CPUs ({cpu}), "
            f"{'servers on CPU %d, clients on CPU %d' % (b.server_cpu, b.client_cpu) if b.pinned else 'not pinned'}, "
            f"{b.args.reps} repetitions, load average before: {os.getloadavg()[0]:.2f}")


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


SCENARIOS = ("hit-1k", "hit-64k", "miss-1k", "big", "idle", "collapse", "scale", "gzip-hit",
             "gzip-miss", "index")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--magpie", default=os.path.join(ROOT, "build", "magpie"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    ap.add_argument("--markdown", default=os.path.join(ROOT, "build", "bench.md"))
    ap.add_argument("--no-pin", action="store_true", help="do not use taskset")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s}; known: {', '.join(SCENARIOS)}")
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (sh scripts/deps.sh bench installs it)")
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        sys.exit("bench: nginx is missing (sh scripts/deps.sh bench installs it)")
    if not os.access(args.magpie, os.X_OK):
        sys.exit(f"bench: no magpie binary at {args.magpie} (run make)")
    os.environ["PATH"] += ":/usr/sbin"
    raise_nofile()

    b = Bench(args)
    note = machine_note(b)
    results = {}
    t0 = time.monotonic()
    # SIGTERM (a stopped make, a CI timeout) unwinds like Ctrl-C: finally runs
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        log(f"temp dir {b.tmp}; generating files")
        b.make_docroot()
        b.start_nginx()
        b.start_magpie()
        if "hit-1k" in only:
            b.warm("/1k/")
            results["hit-1k"] = b.sc_wrk("hit-1k", "/1k/", 0)
        if "hit-64k" in only:
            b.warm("/64k/")
            results["hit-64k"] = b.sc_wrk("hit-64k", "/64k/", 0)
        if "miss-1k" in only:
            results["miss-1k"] = b.sc_wrk("miss-1k", "/nostore/1k/", 1)
        if "big" in only:
            results["big"] = b.sc_big()
        if "collapse" in only:
            results["collapse"] = b.sc_collapse()
        if "idle" in only:
            b.warm("/1k/")
            results["idle"] = b.sc_idle()
        if "scale" in only:
            b.warm("/1k/")
            results["scale"], results["scale-base"] = b.sc_scale(
                results.get("hit-1k", {}).get("magpie"))
        if "gzip-hit" in only or "gzip-miss" in only:
            # a magpie of their own, compression on, as the other scenarios
            # measure magpie's defaults (compression off)
            b.stop_magpie()
            b.start_magpie("gzip", extra=COMPRESSION_ON)
            if "gzip-hit" in only:
                results["gzip-hit"] = b.sc_gzip_hit()
            if "gzip-miss" in only:
                results["gzip-miss"] = b.sc_gzip_miss()
            b.check_magpie("at the end of the gzip scenarios")
            b.stop_magpie()
            b.start_magpie()
        if "index" in only:  # last: it restarts magpie on a cache of its own
            results["index"] = b.sc_index()
        b.check_magpie("at the end")
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        b.stop_all()
        for name, what in (("magpie", "magpie"), ("gzip", "the gzip scenarios' magpie")):
            try:
                with open(os.path.join(b.tmp, f"{name}-error.log")) as f:
                    errlog = f.read().strip()
            except OSError:
                errlog = ""
            if errlog:
                b.problems.append(f"{what} error log:\n" + "\n".join(
                    "    " + l for l in errlog.splitlines()[-20:]))
        try:  # index's magpie logs at info on its restarts: only its complaints
            with open(os.path.join(b.tmp, "index-error.log")) as f:
                errlog = [l.rstrip() for l in f if re.search(r" \[(warn|error)", l)]
        except OSError:
            errlog = []
        if errlog:
            b.problems.append("index's magpie error log:\n" + "\n".join(
                "    " + l for l in errlog[-20:]))
        if args.keep:
            log(f"kept {b.tmp}")
        else:
            shutil.rmtree(b.tmp, ignore_errors=True)

    rows = build_rows(results)
    print(f"\nmagpie bench: {note}; {time.monotonic() - t0:.0f} s\n")
    print(text_table(rows))
    for p in b.problems:
        print(f"\nnote: {p}")
    if args.markdown:
        os.makedirs(os.path.dirname(args.markdown), exist_ok=True)
        with open(args.markdown, "w") as f:
            f.write(f"{note}.\n\n{md_table(rows)}\n")
            for p in b.problems:
                f.write(f"\nNote: {p}\n")
        log(f"Markdown table in {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
