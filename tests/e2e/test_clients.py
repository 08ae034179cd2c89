"""Real HTTP clients through magpie: curl, aiohttp, httpx, requests; and 100
concurrent clients. Proxy variables from the environment never reach the
clients except where a test sets http_proxy itself."""

import asyncio
import hashlib
import json
import subprocess
import time

import aiohttp
import httpx
import requests

from conftest import clean_env
from origin import pattern

VIA = "1.1 magpie-test"


def curl(args, env):
    return subprocess.run(["curl", "-q", "-sS", "-D", "-", "-o", "/dev/null"] + args,
                          env=env, capture_output=True, text=True, timeout=20)


def test_curl_with_proxy_option(magpie, origin):
    p = curl(["-x", magpie.proxy_url, origin.url("/bytes/1000"),
              "-w", "\nsize=%{size_download}\n"], clean_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("HTTP/1.1 200")
    assert "via: " + VIA in p.stdout.lower()
    assert "size=1000" in p.stdout
    assert origin.request_count() == 1


def test_curl_with_http_proxy_variable(magpie, origin):
    p = curl([origin.url("/bytes/1000")], clean_env(http_proxy=magpie.proxy_url))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("HTTP/1.1 200")
    assert "via: " + VIA in p.stdout.lower()
    assert len(magpie.wait_access_line(lambda l: "/bytes/1000" in l)) > 0


def test_curl_post_through_proxy(magpie, origin, tmp_path):
    f = tmp_path / "upload"
    f.write_bytes(pattern(200000))
    p = subprocess.run(["curl", "-q", "-sS", "-x", magpie.proxy_url, "-H", "Expect:",
                        "--data-binary", "@%s" % f, origin.url("/echo")],
                       env=clean_env(), capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["method"] == "POST"
    assert doc["body_sha256"] == hashlib.sha256(pattern(200000)).hexdigest()


def test_aiohttp_with_proxy(magpie, origin):
    async def run():
        async with aiohttp.ClientSession(trust_env=False) as s:
            async with s.get(origin.url("/bytes/5000"), proxy=magpie.proxy_url) as r:
                return r.status, r.headers.getall("Via", []), await r.read()

    status, via, body = asyncio.run(asyncio.wait_for(run(), 20))
    assert status == 200
    assert VIA in ", ".join(via)
    assert body == pattern(5000)


def test_httpx_with_proxy(magpie, origin):
    with httpx.Client(proxies=magpie.proxy_url, trust_env=False, timeout=20) as c:
        r = c.post(origin.url("/echo"), content=b"httpx body")
    assert r.status_code == 200
    assert VIA in r.headers.get("via", "")
    doc = r.json()
    assert doc["method"] == "POST" and doc["body"] == "httpx body"


def test_requests_with_proxy(magpie, origin):
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(origin.url("/chunked/7000"), proxies={"http": magpie.proxy_url}, timeout=20)
    assert r.status_code == 200
    assert VIA in r.headers.get("via", "")
    assert r.content == pattern(7000)


def test_requests_keepalive_through_proxy(magpie, origin):
    with requests.Session() as s:
        s.trust_env = False
        bodies = [s.get(origin.url("/bytes/%d" % n), proxies={"http": magpie.proxy_url},
                        timeout=20).content for n in (10, 20, 30)]
    assert bodies == [pattern(10), pattern(20), pattern(30)]
    lines = [l for l in magpie.access_log_lines() if "/bytes/" in l]
    ports = {l.split()[1] for l in lines}
    assert len(lines) == 3
    assert len(ports) == 1, "requests did not reuse its proxy connection: %s" % lines


def test_100_concurrent_clients(magpie, origin):
    n = 100

    async def one(session, i):
        async with session.get(origin.url("/echo?client=%d" % i), proxy=magpie.proxy_url,
                               headers={"X-Client": str(i)}) as r:
            return r.status, await r.json()

    async def run():
        conn = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=conn, trust_env=False) as s:
            return await asyncio.gather(*(one(s, i) for i in range(n)))

    start = time.monotonic()
    results = asyncio.run(asyncio.wait_for(run(), 40))
    took = time.monotonic() - start
    assert [st for st, _ in results] == [200] * n
    assert [doc["query"] for _, doc in results] == ["client=%d" % i for i in range(n)]
    assert origin.request_count() == n
    assert took < 20, "100 clients took %.1f s" % took


def test_100_concurrent_slow_requests_overlap(magpie, origin):
    n = 100

    async def one(session, i):
        async with session.get(origin.url("/slow/0.5?c=%d" % i), proxy=magpie.proxy_url) as r:
            return r.status, await r.read()

    async def run():
        conn = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=conn, trust_env=False) as s:
            return await asyncio.gather(*(one(s, i) for i in range(n)))

    start = time.monotonic()
    results = asyncio.run(asyncio.wait_for(run(), 40))
    took = time.monotonic() - start
    assert results == [(200, b"slow\n")] * n
    assert took < 10, "100 concurrent 0.5 s requests took %.1f s: not concurrent" % took
