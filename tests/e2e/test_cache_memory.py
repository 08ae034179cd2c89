"""The memory tier (cache.memory_size): a stored response read once is kept
in memory, checked, and later hits are answered from that copy without
touching its file; it goes when the stored response is replaced or
invalidated; memory_size: 0 turns it off, and then every hit reads (and
checks) the file. TLS clients get memory copies through the buffer."""

import os

from origin import pattern
import rawhttp
from test_cache_store import (HOST, assert_body, cache_dir, cached_route, file_for, get, number,
                              quiescent)
from test_tls_listener import tls_listen
from upstream_util import *  # noqa: F401,F403 (fixtures)

SIZE = 20000


def flip_body_byte(path, n):
    """Flips a byte in the middle of an n-byte body at the end of path."""
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size - n // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x20]))


def stored_then_damaged(m, origin, path):
    """Stores path, reads it once as a hit, then damages its file."""
    first = get(m, path)
    assert_body(first, SIZE, "miss")
    assert first.header("x-cache") == "MISS"
    quiescent(cache_dir(m))
    hit = get(m, path)
    assert_body(hit, SIZE, "first hit")
    assert hit.header("x-cache") == "HIT"
    flip_body_byte(file_for(cache_dir(m), path.split("?")[1]), SIZE)
    return first


def test_hits_after_the_first_come_from_memory(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin))
    first = stored_then_damaged(m, origin, "/bytes/%d?o=mem" % SIZE)
    before = origin.request_count()
    for i in range(3):
        r = get(m, "/bytes/%d?o=mem" % SIZE)
        assert_body(r, SIZE, "hit %d" % i)  # the checked copy, not the damaged file
        assert r.header("x-cache") == "HIT" and number(r) == number(first)
    assert origin.request_count() == before
    assert "checksum mismatch" not in m.error_log_text()


def test_without_memory_every_hit_checks_the_file(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin), cache={"memory_size": 0})
    first = stored_then_damaged(m, origin, "/bytes/%d?o=disk" % SIZE)
    r = get(m, "/bytes/%d?o=disk" % SIZE)
    assert_body(r, SIZE, "after the damage")
    assert r.header("x-cache") == "MISS" and number(r) != number(first)
    m.wait_error_log(r"body checksum mismatch; removed")


def test_invalidation_drops_the_memory_copy(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin))
    path = "/bytes/%d?o=inv" % SIZE
    first = get(m, path)
    quiescent(cache_dir(m))
    for _ in range(2):
        assert number(get(m, path)) == number(first)  # the second one from memory
    assert rawhttp.fetch(m.port, "POST", path, host=HOST, body=b"x").status == 200
    r = get(m, path)
    assert_body(r, SIZE, "after the POST")
    assert r.header("x-cache") == "MISS" and number(r) != number(first)
    quiescent(cache_dir(m))
    again = get(m, path)
    assert again.header("x-cache") == "HIT" and number(again) == number(r)


def test_conditional_and_range_requests_on_a_memory_copy(magpie_factory, origin):
    m = magpie_factory(routes=cached_route(origin))
    path = "/headers?ETag=%22v1%22&Cache-Control=max-age%3D60"
    assert get(m, path).header("x-cache") == "MISS"
    quiescent(cache_dir(m))
    for _ in range(2):
        r = get(m, path)
        assert r.status == 200 and r.body == b"headers\n" and r.header("x-cache") == "HIT"
        assert r.header("etag") == '"v1"' and r.header("age") is not None
    r = get(m, path, headers=[("If-None-Match", '"v1"')])
    assert r.status == 304 and r.body == b""
    r = get(m, path, headers=[("Range", "bytes=1-3")])
    assert r.status == 206 and r.body == b"ead"
    assert r.header("content-range") == "bytes 1-3/8"
    r = get(m, path, headers=[("Range", "bytes=50-")])
    assert r.status == 416 and r.header("content-range") == "bytes */8"


def test_tls_client_gets_memory_copies(magpie_listen_factory, origin, certs):
    m = magpie_listen_factory(lambda port: [tls_listen(certs, port)], routes=cached_route(origin))
    c = rawhttp.Conn(m.port)
    numbers = set()
    with c:
        c.sock = client_context(certs.ca).wrap_socket(c.sock, server_hostname="127.0.0.1")
        for i in range(4):
            r = c.request("GET", "/bytes/%d?o=tls" % SIZE, host=HOST)
            assert r.status == 200 and r.body == pattern(SIZE), i
            assert r.header("x-cache") == ("MISS" if i == 0 else "HIT"), i
            numbers.add(number(r))
            if i == 0:
                quiescent(cache_dir(m))
    assert len(numbers) == 1


def test_chunked_response_is_stored_without_claiming_it_early(magpie_factory, origin):
    """A chunked body may still pass max_object_size after its head went
    out, so its Cache-Status does not say "stored"; it is stored all the
    same when it ends within the limit."""
    m = magpie_factory(routes=cached_route(origin))
    first = get(m, "/chunked/30000")
    assert first.status == 200 and first.body == pattern(30000)
    assert first.header("cache-status") == "magpie; fwd=uri-miss"
    quiescent(cache_dir(m))
    r = get(m, "/chunked/30000")
    assert r.header("x-cache") == "HIT" and r.body == pattern(30000)
    assert number(r) == number(first)


def test_memory_tier_under_churn(magpie_factory, origin):
    """Twelve clients for three seconds over 30 objects when about ten fit
    in memory: copies are made, evicted while being sent, invalidated and
    purged under them. Every answer must be whole and right (the sanitized
    daemon must also exit cleanly: no use after free, no leak)."""
    import random
    import threading
    import time

    m = magpie_factory(routes=cached_route(origin),
                       cache={"memory_size": "256KiB"}, admin={"purge_allow": ["127.0.0.0/8"]})
    sizes = [20000 + 997 * i for i in range(30)]  # 20-49 KB: at most 32 KiB per copy
    errors = []
    stop = time.monotonic() + 3.0

    def client(seed):
        rnd = random.Random(seed)
        c = None
        try:
            while time.monotonic() < stop:
                if c is None:
                    c = rawhttp.Conn(m.port)
                n = rnd.choice(sizes)
                path = "/bytes/%d" % n
                pick = rnd.random()
                if pick < 0.1:
                    r = c.request("GET", path, host=HOST, headers=[("Range", "bytes=100-199")])
                    ok = r.status in (200, 206) and (
                        r.body == pattern(n)[100:200] if r.status == 206 else r.body == pattern(n))
                elif pick < 0.15:
                    r = c.request("HEAD", path, host=HOST)
                    ok = r.status == 200 and r.body == b""
                elif pick < 0.18:
                    r = c.request("PURGE", path, host=HOST)
                    ok = r.status in (200, 404)
                elif pick < 0.2:
                    r = c.request("POST", path, host=HOST, body=b"x")
                    ok = r.status == 200
                else:
                    r = c.request("GET", path, host=HOST)
                    ok = r.status == 200 and r.body == pattern(n)
                if not ok:
                    errors.append("%s: status %d, %d bytes" % (path, r.status, len(r.body)))
                    return
                if (r.header("connection") or "").lower() == "close":
                    c.close()  # PURGE's answer is made locally and closes
                    c = None
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))
        finally:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    hits = get(m, "/bytes/%d" % sizes[0])
    assert_body(hits, sizes[0], "after the churn")


def test_reload_resizes_the_memory_tier(magpie_factory, origin):
    import signal

    m = magpie_factory(routes=cached_route(origin), cache={"memory_size": 0})
    path = "/bytes/%d?o=reload" % SIZE
    first = get(m, path)
    quiescent(cache_dir(m))
    m.write_config({"routes": cached_route(origin), "cache": {"memory_size": "1MiB"}})
    m.signal(signal.SIGHUP)
    m.wait_error_log(r"reload: cache.memory_size is now 1048576 bytes")
    assert get(m, path).header("x-cache") == "HIT"  # copied into the new tier
    flip_body_byte(file_for(cache_dir(m), "o=reload"), SIZE)
    r = get(m, path)
    assert_body(r, SIZE, "from memory")
    assert number(r) == number(first)
    # back to 0: the copies go, and the damaged file is found on the next hit
    m.write_config({"routes": cached_route(origin), "cache": {"memory_size": 0}})
    m.signal(signal.SIGHUP)
    m.wait_error_log(r"reload: cache.memory_size is now 0 bytes")
    r = get(m, path)
    assert_body(r, SIZE, "after the tier went")
    assert r.header("x-cache") == "MISS" and number(r) != number(first)
