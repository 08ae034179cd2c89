"""The disk store under stress, as clients see it: a SIGKILL in the middle
of ~200 stores, damaged files found at start and on read, LRU eviction under
cache.max_size, cache.max_object_size, a full file system (a small tmpfs)
and a cache directory that cannot be created. Whatever happens to the disk,
every response is complete and correct; a stored object is either served
whole or is a miss. Bodies come from the origin's /bytes/N pattern, so each
one is checked by its SHA-256."""

import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from origin import pattern, pattern_sha256
from rawhttp import fetch

HOST = "api.local"
KIB = 1024
MIB = 1024 * KIB


def cached_route(origin, **cache):
    return [{"host": HOST, "origin": origin.url(""), "cache": dict({"default_ttl": "60s"}, **cache)}]


def get(m, path, **kw):
    return fetch(m.port, "GET", path, host=HOST, **kw)


def number(r):
    return int(r.header("x-response-number"))


def sha(b):
    return hashlib.sha256(b).hexdigest()


def assert_body(r, n, what=""):
    assert r.status == 200, "%s: status %s" % (what, r.status)
    assert len(r.body) == n, "%s: %d of %d bytes" % (what, len(r.body), n)
    assert sha(r.body) == pattern_sha256(n), "%s: corrupt body" % what


def cache_dir(m):
    return Path(m.config["cache"]["dir"])


def stored_files(d):
    """{path: size} of the regular files under d, tmp/ excluded; files that
    vanish while being listed are skipped."""
    out = {}
    for root, dirs, files in os.walk(d):
        if Path(root) == Path(d):
            dirs[:] = [x for x in dirs if x != "tmp"]
        for f in files:
            p = Path(root) / f
            try:
                out[p] = p.stat().st_size
            except FileNotFoundError:
                pass
    return out


def tmp_files(d):
    try:
        return sorted((Path(d) / "tmp").iterdir())
    except FileNotFoundError:
        return []


def stored_key(p):
    """The cache key recorded in a store file (docs/CACHE.md: key length at
    offset 16, key at 64), or None when the file is too short to say."""
    try:
        with open(p, "rb") as f:
            head = f.read(64)
            if len(head) < 64:
                return None
            klen = struct.unpack_from("<I", head, 16)[0]
            key = f.read(klen)
            return key.decode("latin-1") if len(key) == klen else None
    except FileNotFoundError:
        return None


def file_for(d, suffix):
    """The one stored file whose key ends with suffix."""
    found = [p for p in stored_files(d) if (stored_key(p) or "").endswith(suffix)]
    assert len(found) == 1, "files for %s: %s" % (suffix, found)
    return found[0]


def wait_scan_summary(m):
    """(removed invalid, removed temporary) from the summary line of the
    latest start-up scan."""
    m.wait_error_log(r"cache: .*: indexed \d+ objects")
    runs = re.findall(r"cache: .*: indexed \d+ objects, \d+ bytes in [\d.]+ s; "
                      r"removed (\d+) invalid, (\d+) temporary", m.error_log_text())
    assert runs, "no scan summary line:\n" + m.error_log_text()[-3000:]
    return tuple(int(x) for x in runs[-1])


def quiescent(d, timeout=3.0):
    """Waits (bounded) until no temporary file is being written."""
    deadline = time.monotonic() + timeout
    while tmp_files(d) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not tmp_files(d), "temporary files stay: %s" % tmp_files(d)


# -- 1. SIGKILL while ~200 objects are being written ------------------------------

CRASH_N = 200
CRASH_SIZE = 300000


class Transfer(threading.Thread):
    """One client fetching /bytes/CRASH_SIZE?i=K through magpie on a raw
    socket. A reader reads as fast as it can; a staller (small receive
    buffer) reads the head and some body, then stops reading until the
    kill, so its object is still being written when magpie dies."""

    def __init__(self, port, i, stall, killed):
        super().__init__(daemon=True)
        self.port, self.i, self.stall, self.killed = port, i, stall, killed
        self.path = "/bytes/%d?i=%d" % (CRASH_SIZE, i)
        self.status = None
        self.headers = {}
        self.body = bytearray()
        self.started = threading.Event()  # head and some body arrived
        self.done_at = None  # monotonic time the whole body arrived
        self.error = None

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if self.stall:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(20)
            s.connect(("127.0.0.1", self.port))
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % (self.path, HOST)).encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    raise ConnectionError("closed before the head ended")
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.body += rest
            length = int(self.headers["content-length"])
            while not self.body:
                d = s.recv(65536)
                if not d:
                    return
                self.body += d
            self.started.set()
            if self.stall:
                self.killed.wait(20)
            while len(self.body) < length:
                d = s.recv(65536)
                if not d:
                    return
                self.body += d
            self.done_at = time.monotonic()
        except OSError as e:
            self.error = e
        finally:
            self.started.set()
            s.close()

    def complete(self):
        return self.done_at is not None


@pytest.mark.time_limit(40)
def test_sigkill_while_storing_leaves_no_torn_object(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin))
    d = cache_dir(m)
    killed = threading.Event()
    clients = [Transfer(m.port, i, i % 2 == 1, killed) for i in range(CRASH_N)]
    try:
        for c in clients:
            c.start()
        readers = [c for c in clients if not c.stall]
        stallers = [c for c in clients if c.stall]

        def in_flight():
            return (sum(c.complete() for c in readers) >= len(readers) // 2
                    and all(c.started.is_set() for c in stallers)
                    and len(tmp_files(d)) >= 10)

        deadline = time.monotonic() + 15
        while not in_flight():
            assert time.monotonic() < deadline, (
                "transfers did not get going: %d readers done, %d stallers started, %d tmp files"
                % (sum(c.complete() for c in readers),
                   sum(c.started.is_set() for c in stallers), len(tmp_files(d))))
            time.sleep(0.01)
        os.kill(m.pid, signal.SIGKILL)
        kill_time = time.monotonic()
        assert m.expect_exit(5) == -signal.SIGKILL
    finally:
        killed.set()
        for c in clients:
            c.join(10)
    assert not any(c.is_alive() for c in clients), "client threads did not finish"

    # What the clients got before the kill: a correct prefix, never junk.
    full = pattern(CRASH_SIZE)
    for c in clients:
        if c.status is None:
            continue
        assert c.status == 200, (c.path, c.status)
        assert c.headers.get("x-cache") == "MISS", (c.path, c.headers)
        assert len(c.body) <= CRASH_SIZE and bytes(c.body) == full[:len(c.body)], (
            "%s: corrupt body before the kill (%d bytes)" % (c.path, len(c.body)))

    # Objects caught mid-write are exactly the ones left in tmp/.
    leftovers = tmp_files(d)
    assert len(leftovers) >= 10
    torn = set()
    for p in leftovers:
        key = stored_key(p)
        mm = re.search(r"[?&]i=(\d+)", key or "")
        if mm:
            torn.add(int(mm.group(1)))
    assert torn, "no temporary file names its key: %s" % [stored_key(p) for p in leftovers]

    # Restart on the same directory; the fixture stops and checks this
    # second process at teardown.
    m.start()
    m.checked = False
    assert tmp_files(d) == [], "temporary files survive a restart"
    invalid, temporary = wait_scan_summary(m)
    assert invalid == 0, "a file renamed into place was invalid"
    assert temporary == len(leftovers)

    def refetch(c):
        return c, get(m, c.path, timeout=20)

    with ThreadPoolExecutor(16) as ex:
        results = list(ex.map(refetch, clients))
    hits = 0
    for c, r in results:
        assert_body(r, CRASH_SIZE, c.path)
        xc = r.header("x-cache")
        assert xc in ("HIT", "MISS"), (c.path, xc)
        if xc == "HIT":
            hits += 1
            assert c.status == 200 and number(r) == int(c.headers["x-response-number"]), (
                "%s: a hit that is not the response stored before the kill" % c.path)
        if c.i in torn:
            assert xc == "MISS", "%s was being written at the kill but is a HIT" % c.path
        # The store commits when the origin's last byte is in, before the
        # client can have it; 0.1 s covers the client thread's lag.
        if c.complete() and c.done_at < kill_time - 0.1:
            assert xc == "HIT", "%s was delivered whole before the kill but was not kept" % c.path
    assert hits > 0


# -- 2. damaged files ---------------------------------------------------------------

def test_damaged_files_are_misses_and_removed(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin))
    d = cache_dir(m)
    sizes = {"flip": 20000, "cut": 20000, "head": 200000, "ok": 20000}
    first = {}
    for name, n in sizes.items():
        first[name] = get(m, "/bytes/%d?o=%s" % (n, name))
        assert_body(first[name], n, name)
    quiescent(d)
    for name, n in sizes.items():
        assert get(m, "/bytes/%d?o=%s" % (n, name)).header("x-cache") == "HIT", name
    m.signal(signal.SIGTERM)
    assert m.expect_exit(10) == 0

    files = {name: file_for(d, "o=" + name) for name in sizes}
    # A byte in the middle of a small body: only the body CRC sees it (on read).
    with open(files["flip"], "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size - sizes["flip"] // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x20]))
    # Truncated in the middle: the size check at start sees it.
    os.truncate(files["cut"], files["cut"].stat().st_size // 2)
    # A byte of the stored head (just before the body): the header CRC.
    with open(files["head"], "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size - sizes["head"] - 10)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x01]))

    m.start()
    m.checked = False
    invalid, _ = wait_scan_summary(m)
    assert invalid == 2, "the truncated and the head-damaged file"
    log = m.error_log_text()
    for name in ("cut", "head"):
        rel = str(files[name].relative_to(d))
        assert re.search(re.escape(rel) + r": .*removed", log), "no removal logged for " + rel
    assert not files["cut"].exists() and not files["head"].exists()

    before = origin.request_count()
    for name in ("flip", "cut", "head"):
        r = get(m, "/bytes/%d?o=%s" % (sizes[name], name))
        assert_body(r, sizes[name], name)
        assert r.header("x-cache") == "MISS", name
        assert number(r) != number(first[name]), "%s: the damaged copy was served" % name
    assert origin.request_count() == before + 3
    rel = str(files["flip"].relative_to(d))
    m.wait_error_log(re.escape(rel) + r": body checksum mismatch; removed")
    r = get(m, "/bytes/%d?o=ok" % sizes["ok"])
    assert_body(r, sizes["ok"], "ok")
    assert r.header("x-cache") == "HIT" and number(r) == number(first["ok"])
    # The refetched objects were stored again, whole.
    quiescent(d)
    for name in ("flip", "cut", "head"):
        r = get(m, "/bytes/%d?o=%s" % (sizes[name], name))
        assert_body(r, sizes[name], name)
        assert r.header("x-cache") == "HIT", name


def test_damaged_large_body_is_not_served(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin))
    d = cache_dir(m)
    n = 300000
    first = get(m, "/bytes/%d?o=big" % n)
    quiescent(d)
    m.signal(signal.SIGTERM)
    assert m.expect_exit(10) == 0
    with open(file_for(d, "o=big"), "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size - n // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x20]))
    m.start()
    m.checked = False
    r = get(m, "/bytes/%d?o=big" % n)
    # Served whole from the origin, or at least visibly cut short: never
    # a complete-looking body with a wrong byte.
    assert len(r.body) < n or sha(r.body) == pattern_sha256(n), (
        "%s served a damaged body (Age %s)" % (r.header("x-cache"), r.header("age")))
    assert number(r) != number(first)


# -- 3. eviction -------------------------------------------------------------------

def test_eviction_keeps_max_size_and_the_newest(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin),
                       cache={"max_size": "1MiB", "max_object_size": "256KiB"})
    d = cache_dir(m)
    n = 100 * KIB
    for i in range(20):
        assert_body(get(m, "/bytes/%d?e=%d" % (n, i)), n, "e=%d" % i)
        quiescent(d)
        total = sum(stored_files(d).values())
        assert total <= MIB, "after %d objects the store holds %d bytes" % (i + 1, total)
    assert len(stored_files(d)) >= 8, "eviction removed more than it had to"
    before = origin.request_count()
    for i in range(15, 20):
        r = get(m, "/bytes/%d?e=%d" % (n, i))
        assert r.header("x-cache") == "HIT", "e=%d, among the newest, was evicted" % i
        assert_body(r, n, "e=%d" % i)
    for i in range(5):
        r = get(m, "/bytes/%d?e=%d" % (n, i), headers=[("Cache-Control", "only-if-cached")])
        assert r.status == 504, "e=%d, among the oldest, is still stored" % i
    assert origin.request_count() == before
    r = get(m, "/bytes/%d?e=0" % n)
    assert r.header("x-cache") == "MISS"
    assert_body(r, n, "e=0")
    quiescent(d)
    assert sum(stored_files(d).values()) <= MIB


def test_eviction_does_not_disturb_a_hit_being_served(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin),
                       cache={"max_size": "1MiB", "max_object_size": "512KiB"})
    d = cache_dir(m)
    n = 400000
    get(m, "/bytes/%d?v=0" % n)
    quiescent(d)
    victim = file_for(d, "v=0")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", m.port))
        s.sendall(b"GET /bytes/%d?v=0 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                  % (n, HOST.encode()))
        buf = s.recv(4096)
        for i in range(1, 4):  # each store evicts the least recently used
            get(m, "/bytes/%d?v=%d" % (n, i))
        quiescent(d)
        assert not victim.exists(), "the object being served was not evicted"
        while True:
            x = s.recv(65536)
            if not x:
                break
            buf += x
    head, _, body = buf.partition(b"\r\n\r\n")
    assert b"X-Cache: HIT" in head
    assert len(body) == n and sha(body) == pattern_sha256(n)


# -- 4. max_object_size --------------------------------------------------------------

@pytest.mark.parametrize("path", ["/bytes/200000", "/chunked/200000"])
def test_object_over_max_object_size_passes_uncached(magpie_factory, origin, path):
    m = magpie_factory(routes=cached_route(origin), cache={"max_object_size": "64KiB"})
    d = cache_dir(m)
    numbers = set()
    for _ in range(3):
        r = get(m, path)
        assert_body(r, 200000, path)
        assert r.header("x-cache") == "MISS"
        # a known length is refused at once; a chunked body is dropped from
        # the store once it passes the limit, and was never claimed stored
        assert "stored" not in r.header("cache-status")
        numbers.add(number(r))
    assert len(numbers) == 3, "the origin was not asked every time"
    quiescent(d)
    assert stored_files(d) == {}
    small = get(m, "/bytes/1000")
    assert get(m, "/bytes/1000").header("x-cache") == "HIT"
    assert number(get(m, "/bytes/1000")) == number(small)


# -- 5. a full file system -------------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    """A 512 KiB tmpfs. Request it before magpie_factory, so that magpie
    is stopped before the unmount."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % (p.stderr.strip() or p.returncode))
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=10).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)


def test_full_disk_serves_uncached_and_logs_once(small_fs, magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin),
                       cache={"dir": str(small_fs), "max_size": "16MiB", "max_object_size": "4MiB"})
    sizes = [700000] * 3 + [100000] * 8 + [1500000] * 2 + [100000] * 3
    for i, n in enumerate(sizes):
        r = get(m, "/bytes/%d?f=%d" % (n, i))
        assert_body(r, n, "f=%d" % i)
        assert m.alive(), m.exit_message(m.proc.poll())
    quiescent(small_fs)
    assert sum(stored_files(small_fs).values()) <= 512 * KIB
    # The large objects never fit; each is fetched again, whole.
    for i, n in enumerate(sizes):
        r = get(m, "/bytes/%d?f=%d" % (n, i))
        assert_body(r, n, "f=%d (again)" % i)
        if n > 512 * KIB:
            assert r.header("x-cache") == "MISS"
    assert m.alive()
    log = m.error_log_text()
    full = [l for l in log.splitlines() if re.search(r"No space left on device", l)]
    assert 1 <= len(full) <= 3, "write failure lines:\n" + "\n".join(full)
    assert str(small_fs) in full[0]
    assert tmp_files(small_fs) == []


# -- 6. a cache directory that cannot be made ---------------------------------------------

@pytest.mark.parametrize("where", ["is_a_file", "under_a_file"])
def test_unusable_cache_dir_disables_the_cache(magpie_factory, origin, tmp_path, where):
    f = tmp_path / "plainfile"
    f.write_bytes(b"not a directory\n")
    bad = f if where == "is_a_file" else f / "cache"
    m = magpie_factory(routes=cached_route(origin), cache={"dir": str(bad)})
    r1 = get(m, "/bytes/5000")
    r2 = get(m, "/bytes/5000")
    for r in (r1, r2):
        assert_body(r, 5000)
        assert r.header("x-cache") != "HIT"
    assert number(r2) != number(r1)
    m.wait_error_log(r"(?i)cache.*%s" % re.escape(str(bad)))
    assert f.read_bytes() == b"not a directory\n"
