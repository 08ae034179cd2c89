"""Compression (issue 11) as clients see it: magpie negotiates one coding
per request (RFC 9110 §12.5.3) among compression.encodings and identity,
sends the origin `Accept-Encoding: <token>`, encodes compressible identity
bodies on the fly, stores the encoded bytes as a variant keyed on the
token, derives entity tags ("abc" -> "abc~gzip") and maps them back, leaves
alone what must not be transformed, decodes an origin's coding for clients
that do not accept it with bounded memory, ends corrupt streams visibly,
flushes slow bodies as they come, and logs the coding it sent.

Every body is checked byte for byte after decoding it here: gzip and
deflate with zlib, br with python3-brotli, zstd with python3-zstandard;
curl, requests, httpx and aiohttp decode with their own decoders."""

import hashlib
import random
import socket
import threading
import time
import zlib

import brotli
import pytest
import zstandard

from conftest import poll
from origin import Origin
import rawhttp
from rawhttp import fetch
from test_cache import _concurrently
from test_cache_memory import flip_body_byte
from test_cache_store import cache_dir, file_for, quiescent
from test_forward import LOW_QUARANTINE
from upstream_util import *  # noqa: F401,F403 (ws_origin, curl, open_tunnel, run_async)

KIB = 1024
MIB = 1024 * KIB
CODINGS = ("gzip", "br", "zstd")
CACHED = ("Cache-Control", "public, max-age=60")
ON = {"enabled": True}


# -- bodies --------------------------------------------------------------------------

_WORDS = ("magpie proxy cache gzip brotli zstd origin client header vary etag range "
          "stream chunk body request response token coding identity variant store hit "
          "miss fresh stale revalidate memory tier flush buffer socket loop event "
          "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega").split()


def text(n, seed=1):
    """n bytes of deterministic, compressible (about 3:1) text."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        line = " ".join(rnd.choices(_WORDS, k=12)) + " %d\n" % rnd.randrange(1 << 30)
        out += line.encode()
    return bytes(out[:n])


BODY = text(50000)


def gzip_bytes(data, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def encode(coding, data):
    if coding in ("gzip", "x-gzip"):
        return gzip_bytes(data)
    if coding == "deflate":
        return zlib.compress(data)  # the zlib format, as RFC 9110 §8.4.1.2 names it
    if coding == "br":
        return brotli.compress(data)
    if coding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(coding)


class Decoder:
    """Incremental decoding of one content coding; gzip members and zstd
    frames may follow each other. feed() returns what is decodable so far;
    end() says whether the stream was complete."""

    def __init__(self, coding):
        self.coding = (coding or "identity").lower()
        self._new()

    def _new(self):
        c = self.coding
        if c in ("gzip", "x-gzip"):
            self.d = zlib.decompressobj(31)
        elif c == "deflate":
            self.d = zlib.decompressobj(15)
        elif c == "br":
            self.d = brotli.Decompressor()
        elif c == "zstd":
            self.d = zstandard.ZstdDecompressor().decompressobj()
        elif c == "identity":
            self.d = None
        else:
            raise AssertionError("unexpected coding %r" % c)

    def feed(self, data):
        if self.d is None:
            return bytes(data)
        if self.coding == "br":
            return self.d.process(bytes(data))
        out = [self.d.decompress(bytes(data))]
        while self.d.eof and self.d.unused_data:
            rest = self.d.unused_data
            self._new()
            out.append(self.d.decompress(rest))
        return b"".join(out)

    def complete(self):
        if self.d is None:
            return True
        if self.coding == "br":
            return self.d.is_finished()
        return self.d.eof


def decode(coding, data):
    d = Decoder(coding)
    out = d.feed(data)
    assert d.complete(), "a %s stream that does not end (%d bytes)" % (coding, len(data))
    return out


def sha(b):
    return hashlib.sha256(b).hexdigest()


# -- the origin ------------------------------------------------------------------------

class Doc:
    def __init__(self, body, ctype, headers, etag, framing, piece, pause, status, ranges,
                 handler):
        self.body, self.ctype, self.headers, self.etag = body, ctype, list(headers), etag
        self.framing, self.piece, self.pause = framing, piece, pause
        self.status, self.ranges, self.handler = status, ranges, handler


def etag_matches(list_value, etag):
    """If-None-Match's weak comparison (RFC 9110 §13.1.2)."""
    tags = [t.strip() for t in list_value.split(",")]
    bare = etag[2:] if etag.startswith("W/") else etag
    return "*" in tags or any((t[2:] if t.startswith("W/") else t) == bare for t in tags)


class CodingOrigin(Origin):
    """The numbering origin (origin.py) serving documents a test registers
    with add(path, body, ...): framing "length", "chunked" or "close",
    pieces of piece bytes with pause seconds between them, an ETag it
    answers If-None-Match for with 304, single byte ranges when ranges is
    set, or a handler(origin, req) of the test's own. Every request head is
    recorded (Origin.requests); seen(path) lists those for one path."""

    def __init__(self):
        self.docs = {}
        super().__init__("127.0.0.1")

    def _serve(self, conn, number):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._serve(conn, number)

    def add(self, path, body=BODY, ctype="text/plain; charset=utf-8", headers=(), etag=None,
            framing="length", piece=16 * KIB, pause=0.0, status=200, ranges=False, handler=None):
        self.docs[path] = Doc(body, ctype, headers, etag, framing, piece, pause, status, ranges,
                              handler)
        return self.url(path)

    def seen(self, path):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def _dispatch(self, req):
        doc = self.docs.get(req.path)
        if doc is None:
            return super()._dispatch(req)
        if doc.handler is not None:
            return doc.handler(self, req)
        return self._serve_doc(req, doc)

    def _serve_doc(self, req, doc):
        req.drain()
        head = ([("Content-Type", doc.ctype)] if doc.ctype else []) + doc.headers
        if doc.etag:
            head.append(("ETag", doc.etag))
        inm = req.header("if-none-match")
        if doc.etag and inm is not None and etag_matches(inm, doc.etag):
            self.send_head(req, 304, [h for h in head if h[0].lower() != "content-type"])
            return True
        status, body = doc.status, doc.body
        rng = req.header("range")
        if doc.ranges and rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            a = int(first)
            b = min(int(last), len(body) - 1) if last else len(body) - 1
            head.append(("Content-Range", "bytes %d-%d/%d" % (a, b, len(body))))
            status, body = 206, body[a:b + 1]
        if status in (204, 304):
            self.send_head(req, status, head)
            return True
        if doc.framing == "length":
            self.send_head(req, status, head, length=len(body))
        elif doc.framing == "chunked":
            self.send_head(req, status, head, chunked=True)
        else:
            self.send_head(req, status, head, close=True)
        if req.method == "HEAD":
            return doc.framing != "close"
        for i in range(0, len(body), doc.piece):
            if i and doc.pause and self._stopping.wait(doc.pause):
                return False
            piece = body[i:i + doc.piece]
            if doc.framing == "chunked":
                req.conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                req.conn.sendall(piece)
        if doc.framing == "chunked":
            req.conn.sendall(b"0\r\n\r\n")
        return doc.framing != "close"


@pytest.fixture
def corigin():
    o = CodingOrigin()
    yield o
    o.stop()


# -- requests and what came back ---------------------------------------------------------

def get(m, url, ae=None, headers=(), method="GET", **kw):
    """One request on a new connection; ae=None sends no Accept-Encoding."""
    hs = list(headers)
    if ae is not None:
        hs.append(("Accept-Encoding", ae))
    return fetch(m.port, method, url, headers=hs, timeout=kw.pop("timeout", 15.0), **kw)


def coding_of(r):
    return (r.header("content-encoding") or "identity").lower()


def assert_coded(r, coding, body=BODY, what=""):
    """r is a complete 200 in coding that decodes to body."""
    assert r.status == 200, "%s: status %s: %r" % (what, r.status, r)
    assert r.complete, "%s: incomplete response %r" % (what, r)
    assert coding_of(r) == coding, "%s: Content-Encoding %r, wanted %s" % (
        what, r.header("content-encoding"), coding)
    got = decode(coding, r.body)
    assert len(got) == len(body) and got == body, "%s: %d bytes decoded, %d wanted" % (
        what, len(got), len(body))


def vary_tokens(r):
    return r.tokens("vary")


def is_hit(r):
    return (r.header("cache-status") or "").startswith("magpie; hit")


def assert_hit(r, coding):
    cs = r.header("cache-status") or ""
    assert cs.startswith("magpie; hit"), "not a hit: Cache-Status %r" % cs
    assert "detail=%s" % coding in cs, "Cache-Status %r does not name the %s variant" % (
        cs, coding)


def origin_ae(o, path, i=-1):
    """The Accept-Encoding fields the i-th origin request for path had."""
    reqs = o.seen(path)
    assert reqs, "no origin request for %s" % path
    return reqs[i].header_all("accept-encoding")


def coding_field(m, pred):
    """The access log's coding field (the last but one: followed redirects end it)."""
    line = m.wait_access_line(pred)
    return line.split()[10]


def compressing(magpie_factory, **compression):
    return magpie_factory(compression=dict({"enabled": True}, **compression))


class Stream:
    """A response read from a raw socket a piece at a time (chunked,
    Content-Length or close-delimited), for bodies too big or too slow to
    read whole. complete says whether the framing ended it (the last chunk,
    or all of Content-Length)."""

    def __init__(self, m, url, ae=None, headers=(), timeout=20.0, rcvbuf=None):
        hs = list(headers) + ([("Accept-Encoding", ae)] if ae is not None else [])
        self.c = rawhttp.Conn(m.port, timeout=timeout, rcvbuf=rcvbuf)
        self.c.send(rawhttp.build_request("GET", url, headers=hs))
        assert self.c.wait_for(b"\r\n\r\n"), "no response head: %r" % self.c.buf
        i = self.c.buf.index(b"\r\n\r\n") + 4
        head, rest = self.c.buf[:i], self.c.buf[i:]
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = []
        for ln in lines[1:]:
            if ln:
                n, _, v = ln.partition(":")
                self.headers.append((n.strip(), v.strip()))
        self.r = rawhttp.Response()
        self.r.headers = self.headers
        self.buf = bytearray(rest)
        self.complete = False
        self.eof = False
        self.deadline = None  # monotonic time by which each piece must have come
        self.c.sock.settimeout(timeout)

    def header(self, name):
        return self.r.header(name)

    def close(self):
        self.c.close()

    def _fill(self):
        if self.eof:
            return False
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no data by the deadline")
            self.c.sock.settimeout(left)
        try:
            data = self.c.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, n):
        while len(self.buf) < n:
            if not self._fill():
                return False
        return True

    def pieces(self):
        """Yields body bytes as they arrive."""
        if "chunked" in self.r.tokens("transfer-encoding"):
            yield from self._chunked()
            return
        cl = self.header("content-length")
        left = int(cl) if cl is not None else None
        while left is None or left > 0:
            if not self.buf and not self._fill():
                self.complete = left is None
                return
            k = len(self.buf) if left is None else min(left, len(self.buf))
            piece = bytes(self.buf[:k])
            del self.buf[:k]
            if left is not None:
                left -= k
            yield piece
        self.complete = True

    def _chunked(self):
        while True:
            while (i := self.buf.find(b"\r\n")) < 0:
                if not self._fill():
                    return
            size = int(bytes(self.buf[:i]).split(b";")[0].strip(), 16)
            del self.buf[:i + 2]
            if size == 0:
                while True:  # trailer fields, then the empty line
                    while (i := self.buf.find(b"\r\n")) < 0:
                        if not self._fill():
                            return
                    del self.buf[:i + 2]
                    if i == 0:
                        self.complete = True
                        return
            left = size
            while left:
                if not self.buf and not self._fill():
                    return
                k = min(left, len(self.buf))
                piece = bytes(self.buf[:k])
                del self.buf[:k]
                left -= k
                yield piece
            if not self._need(2) or bytes(self.buf[:2]) != b"\r\n":
                return
            del self.buf[:2]


# -- 1. clients decoding what magpie sends --------------------------------------------

def curl_headers(path):
    """The last response head curl wrote with -D, as a Response."""
    r = rawhttp.Response()
    heads = path.read_bytes().decode("latin-1").split("\r\n\r\n")
    lines = [h for h in heads if h.strip()][-1].split("\r\n")
    r.status = int(lines[0].split(" ")[1])
    for ln in lines[1:]:
        n, _, v = ln.partition(":")
        r.headers.append((n.strip(), v.strip()))
    return r


@pytest.mark.parametrize("ae,want", [(None, "zstd"), ("gzip", "gzip"), ("br", "br"),
                                     ("zstd", "zstd")])
def test_curl_compressed_decodes_to_the_origin_bytes(magpie_factory, corigin, tmp_path, ae, want):
    """curl --compressed offers deflate, gzip, br and zstd at q=1: magpie's
    preference (zstd first) decides."""
    m = compressing(magpie_factory)
    url = corigin.add("/curl")
    out, hdr = tmp_path / "body", tmp_path / "head"
    extra = ["-H", "Accept-Encoding: " + ae] if ae else []
    p = curl("-x", m.proxy_url, "--compressed", *extra, "-D", str(hdr), "-o", str(out), url)
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    h = curl_headers(hdr)
    assert h.status == 200 and coding_of(h) == want, h
    assert out.read_bytes() == BODY
    assert origin_ae(corigin, "/curl") == [want]


def session():
    import requests

    s = requests.Session()
    s.trust_env = False
    return s


@pytest.mark.parametrize("ae,want", [(None, "br"), ("gzip", "gzip"), ("br", "br")])
def test_requests_decodes_to_the_origin_bytes(magpie_factory, corigin, ae, want):
    """requests offers gzip, deflate, br (urllib3 with brotli)."""
    m = compressing(magpie_factory)
    url = corigin.add("/requests")
    with session() as s:
        r = s.get(url, proxies={"http": m.proxy_url}, timeout=15,
                  headers={"Accept-Encoding": ae} if ae else None)
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") == want
    assert r.content == BODY
    assert origin_ae(corigin, "/requests") == [want]


@pytest.mark.parametrize("coding", CODINGS)
def test_requests_raw_bytes_decode_here(magpie_factory, corigin, coding):
    """The bytes on the wire, undecoded by requests, decoded with zlib,
    python3-brotli and python3-zstandard."""
    m = compressing(magpie_factory)
    url = corigin.add("/raw")
    with session() as s:
        r = s.get(url, proxies={"http": m.proxy_url}, timeout=15, stream=True,
                  headers={"Accept-Encoding": coding})
        raw = r.raw.read(decode_content=False)
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == coding
    assert raw != BODY and len(raw) < len(BODY) // 2, "the body was not compressed"
    assert decode(coding, raw) == BODY


@pytest.mark.parametrize("ae,want", [(None, "br"), ("gzip", "gzip")])
def test_httpx_decodes_to_the_origin_bytes(magpie_factory, corigin, ae, want):
    import httpx

    m = compressing(magpie_factory)
    url = corigin.add("/httpx")
    with httpx.Client(proxies=m.proxy_url, trust_env=False, timeout=15) as c:
        r = c.get(url, headers={"Accept-Encoding": ae} if ae else None)
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == want
    assert r.content == BODY
    assert origin_ae(corigin, "/httpx") == [want]


@pytest.mark.parametrize("ae,want", [(None, "gzip"), ("br", "br")])
def test_aiohttp_decodes_to_the_origin_bytes(magpie_factory, corigin, ae, want):
    """aiohttp offers gzip, deflate."""
    import aiohttp

    m = compressing(magpie_factory)
    url = corigin.add("/aiohttp")

    async def main():
        async with aiohttp.ClientSession(trust_env=False) as s:
            async with s.get(url, proxy=m.proxy_url,
                             headers={"Accept-Encoding": ae} if ae else None) as r:
                return r.status, r.headers.get("Content-Encoding"), await r.read()

    status, ce, body = run_async(main(), timeout=20)
    assert status == 200 and ce == want
    assert body == BODY
    assert origin_ae(corigin, "/aiohttp") == [want]


# -- 2. negotiation ---------------------------------------------------------------------

# (Accept-Encoding or None for none, compression.encodings or None for the
# default [zstd, br, gzip], the coding wanted)
NEGOTIATION = [
    ("gzip", None, "gzip"),
    ("br", None, "br"),
    ("zstd", None, "zstd"),
    ("gzip, br, zstd", None, "zstd"),
    ("gzip, br", None, "br"),
    ("gzip;q=0.5, br;q=0.8, identity;q=0.2", None, "br"),
    ("gzip;q=1, br;q=0.8, zstd;q=0.9", None, "gzip"),
    ("gzip ; q=0.8 , br ; q=1 , identity ; q=0.5", None, "br"),
    ("br;q=0.001, gzip;q=0.002, identity;q=0", None, "gzip"),
    ("GZIP", None, "gzip"),
    ("Br;Q=1", None, "br"),
    ("*", None, "zstd"),
    ("*;q=0.5, gzip", None, "gzip"),
    ("br;q=0.9, *;q=0.1", None, "br"),
    ("gzip;q=0, *", None, "zstd"),
    ("zstd;q=0, br;q=0, *", None, "gzip"),
    ("identity;q=0, gzip;q=0.2", None, "gzip"),
    ("gzip;q=0.5, identity;q=0.5", None, "gzip"),
    ("identity;q=1, gzip;q=0.5", None, "identity"),
    ("identity, br;q=0.9", None, "identity"),
    ("gzip;q=0", None, "identity"),
    ("identity;q=0, *;q=0", None, "identity"),
    ("identity", None, "identity"),
    ("", None, "identity"),
    (None, None, "identity"),
    ("deflate", None, "identity"),
    ("compress, x-unknown", None, "identity"),
    ("x-unknown, gzip", None, "gzip"),
    ("x-unknown;q=1, compress, br", None, "br"),
    ("gzip;q=abc, br", None, "br"),
    ("gzip, br", ["gzip", "br"], "gzip"),
    ("gzip, br", ["br", "gzip"], "br"),
    ("*", ["gzip", "br"], "gzip"),
    ("zstd, br", ["gzip"], "identity"),
    ("zstd, br, gzip", ["gzip"], "gzip"),
    ("br;q=0.5, gzip;q=0.5, zstd;q=0.5, identity;q=0.1", ["br", "gzip", "zstd"], "br"),
]


def test_negotiation_picks_one_coding_and_sends_its_token_upstream(magpie_factory, corigin):
    """Every row: the response's coding, and the origin saw exactly one
    Accept-Encoding naming that token. All rows are checked before failing."""
    magpies = {}
    wrong = []
    for i, (ae, encodings, want) in enumerate(NEGOTIATION):
        key = tuple(encodings or ())
        if key not in magpies:
            magpies[key] = compressing(magpie_factory, **({"encodings": encodings}
                                                          if encodings else {}))
        path = "/neg/%d" % i
        r = get(magpies[key], corigin.add(path), ae=ae)
        sent = corigin.seen(path)[-1].header_all("accept-encoding") if corigin.seen(path) else None
        got = coding_of(r)
        ok = r.status == 200 and got == want and sent == [want]
        if ok:
            try:
                ok = decode(got, r.body) == BODY
            except Exception:  # a body that does not decode is reported below
                ok = False
        if not ok:
            wrong.append("AE %r encodings %s: got %s %s, origin saw Accept-Encoding %r; wanted %s"
                         % (ae, encodings, r.status, got, sent, want))
    assert not wrong, "\n".join(wrong)


# -- 3. the cache: one variant per coding, served with no compression work ---------------

@pytest.mark.parametrize("coding", ("identity",) + CODINGS)
def test_miss_then_hits_per_coding(magpie_factory, corigin, coding):
    m = compressing(magpie_factory)
    url = corigin.add("/v", headers=[CACHED])
    miss = get(m, url, ae=coding)
    assert_coded(miss, coding, what="miss")
    assert miss.header("x-cache") == "MISS"
    if coding != "identity":
        assert miss.chunked and miss.header("content-length") is None, \
            "an encoded miss has no known length: %r" % miss
    quiescent(cache_dir(m))
    for i in range(2):
        hit = get(m, url, ae=coding)
        assert_coded(hit, coding, what="hit %d" % i)
        assert_hit(hit, coding)
        assert hit.header("x-cache") == "HIT"
        assert hit.header("content-length") == str(len(hit.body)) and not hit.chunked, \
            "a stored variant's hit has the Content-Length of its bytes: %r" % hit
        assert hit.body == miss.body, "the hit is not the stored encoded bytes"
        assert hit.header("x-response-number") == miss.header("x-response-number")
    assert len(corigin.seen("/v")) == 1, "a hit went to the origin"


def thousand_gzip_fields():
    """1000 different Accept-Encoding values, each negotiating gzip with the
    default encodings: gzip at q=1 and the rest lower, unknown or refused."""
    out = []
    i = 0
    forms = [
        lambda i: "gzip, x-tok%d" % i,
        lambda i: "x-tok%d;q=0.%d, gzip" % (i, i % 9 + 1),
        lambda i: "gzip;q=1, br;q=0.%02d" % (i % 99 + 1),
        lambda i: "deflate;q=0.%d, GZIP, identity;q=0.%d, x-%d" % (i % 10, (i // 10) % 10, i),
        lambda i: "zstd;q=0.%03d,gzip;q=1.0,x-%d" % (i % 999 + 1, i),
        lambda i: "gzip;q=1.000 , *;q=0.%d , x%d" % (i % 9 + 1, i),
    ]
    while len(out) < 1000:
        v = forms[i % len(forms)](i)
        if v not in out:
            out.append(v)
        i += 1
    assert len(set(out)) == 1000
    return out


@pytest.mark.time_limit(60)
def test_a_thousand_accept_encodings_make_one_gzip_variant(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/thousand", headers=[CACHED])
    fields = thousand_gzip_fields()
    first = get(m, url, ae=fields[0])
    assert_coded(first, "gzip", what="first")
    quiescent(cache_dir(m))
    bad = []
    with m.conn(timeout=15) as c:
        for ae in fields[1:]:
            r = c.request("GET", url, headers=[("Accept-Encoding", ae)])
            if not (r.status == 200 and coding_of(r) == "gzip" and is_hit(r)
                    and r.body == first.body):
                bad.append("%r: %s %s %s" % (ae, r.status, coding_of(r),
                                              r.header("cache-status")))
    assert not bad, "%d of 999 were not the stored gzip variant, e.g.\n%s" % (
        len(bad), "\n".join(bad[:10]))
    assert len(corigin.seen("/thousand")) == 1
    assert origin_ae(corigin, "/thousand") == ["gzip"]


def test_each_coding_is_fetched_from_the_origin_at_most_once(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/four", headers=[CACHED])
    order = ["identity", "gzip", "br", "zstd", "gzip", "zstd", "identity", "br"]
    for ae in order:
        assert_coded(get(m, url, ae=ae), ae, what=ae)
        quiescent(cache_dir(m))
    tokens = [r.header_all("accept-encoding") for r in corigin.seen("/four")]
    assert len(tokens) <= 4, "origin requests for four variants: %r" % tokens
    assert len(tokens) == len({tuple(t) for t in tokens}), "a coding fetched twice: %r" % tokens
    for ae in ("identity",) + CODINGS:
        r = get(m, url, ae=ae)
        assert_coded(r, ae, what="again " + ae)
        assert_hit(r, ae)


def test_memory_tier_serves_an_encoded_variant(magpie_factory, corigin):
    """A small stored gzip variant, read once from its file, then damaged on
    disk: later hits come from the checked memory copy."""
    m = compressing(magpie_factory)
    url = corigin.add("/mem", body=text(20000, seed=7), headers=[CACHED])
    body = text(20000, seed=7)
    miss = get(m, url, ae="gzip")
    assert_coded(miss, "gzip", body, what="miss")
    quiescent(cache_dir(m))
    first_hit = get(m, url, ae="gzip")
    assert_coded(first_hit, "gzip", body, what="first hit")
    assert_hit(first_hit, "gzip")
    flip_body_byte(file_for(cache_dir(m), "/mem"), len(first_hit.body))
    for i in range(3):
        r = get(m, url, ae="gzip")
        assert_coded(r, "gzip", body, what="memory hit %d" % i)
        assert_hit(r, "gzip")
        assert r.body == first_hit.body
    assert len(corigin.seen("/mem")) == 1
    assert "checksum mismatch" not in m.error_log_text()


@pytest.mark.time_limit(40)
def test_concurrent_requests_for_one_coding_collapse(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/collapse", headers=[CACHED], piece=5000, pause=0.1)  # about 1 s
    rs = _concurrently(8, lambda i: get(m, url, ae="gzip", timeout=20))
    for i, r in enumerate(rs):
        assert_coded(r, "gzip", what="client %d" % i)
    assert len(corigin.seen("/collapse")) == 1, "concurrent gzip misses were not collapsed"
    assert any("collapsed" in (r.header("cache-status") or "") for r in rs)


@pytest.mark.time_limit(40)
def test_concurrent_requests_for_different_codings_each_decode(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/mixed", headers=[CACHED], piece=5000, pause=0.1)
    codings = ["gzip", "br", "zstd", "identity"] * 3
    rs = _concurrently(len(codings), lambda i: get(m, url, ae=codings[i], timeout=20))
    for c, r in zip(codings, rs):
        assert_coded(r, c, what="a %s client" % c)
    assert len(corigin.seen("/mixed")) <= 4


# -- 4. headers: Vary, Content-Encoding, framing, entity tags -------------------------------

@pytest.mark.parametrize("origin_vary,want", [
    (None, ["accept-encoding"]),
    ("Origin", ["origin", "accept-encoding"]),
    ("Accept-Encoding", ["accept-encoding"]),
    ("origin, accept-encoding", ["origin", "accept-encoding"]),
])
@pytest.mark.parametrize("coding", ["gzip", "identity"])
def test_vary_names_accept_encoding_once(magpie_factory, corigin, origin_vary, want, coding):
    """Added, or merged into the origin's Vary: one field, never two
    Accept-Encoding; the identity answer of a compressible response too."""
    m = compressing(magpie_factory)
    url = corigin.add("/vary", headers=[("Vary", origin_vary)] if origin_vary else [])
    r = get(m, url, ae=coding)
    assert_coded(r, coding)
    assert len(r.header_all("vary")) == 1, "Vary fields %r" % r.header_all("vary")
    assert sorted(vary_tokens(r)) == sorted(want), "Vary %r" % r.header_all("vary")


def test_encoded_miss_is_chunked_and_a_1_0_client_gets_it_close_delimited(magpie_factory,
                                                                           corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/framing")
    r = get(m, url, ae="gzip")
    assert_coded(r, "gzip")
    assert r.chunked and r.header("content-length") is None, r
    with m.conn() as c:
        c.send(rawhttp.build_request("GET", url, headers=[("Accept-Encoding", "gzip")],
                                     version="HTTP/1.0"))
        r10 = c.read_response()
        assert r10.close_delimited and r10.header("content-length") is None, r10
        assert "chunked" not in r10.tokens("transfer-encoding")
        assert_coded(r10, "gzip", what="HTTP/1.0")


@pytest.mark.parametrize("etag,coding,want", [
    ('"abc"', "gzip", '"abc~gzip"'),
    ('"abc"', "br", '"abc~br"'),
    ('"abc"', "zstd", '"abc~zstd"'),
    ('"abc"', "identity", '"abc"'),
    ('W/"abc"', "gzip", 'W/"abc~gzip"'),
    ('W/"abc"', "zstd", 'W/"abc~zstd"'),
])
def test_encoded_variant_has_a_derived_etag(magpie_factory, corigin, etag, coding, want):
    m = compressing(magpie_factory)
    url = corigin.add("/etag", etag=etag, headers=[CACHED])
    miss = get(m, url, ae=coding)
    assert_coded(miss, coding)
    assert miss.header("etag") == want
    quiescent(cache_dir(m))
    hit = get(m, url, ae=coding)
    assert_hit(hit, coding)
    assert hit.header("etag") == want


def stored_gzip(m, corigin, path, etag='"abc"', cc="public, max-age=60"):
    url = corigin.add(path, etag=etag, headers=[("Cache-Control", cc)])
    r = get(m, url, ae="gzip")
    assert_coded(r, "gzip", what="storing miss")
    quiescent(cache_dir(m))
    return url, r


@pytest.mark.parametrize("inm", ['"abc~gzip"', '"nope", "abc~gzip"', 'W/"abc~gzip"'])
def test_if_none_match_with_the_derived_tag_is_304_from_the_cache(magpie_factory, corigin, inm):
    m = compressing(magpie_factory)
    url, _ = stored_gzip(m, corigin, "/inm")
    r = get(m, url, ae="gzip", headers=[("If-None-Match", inm)])
    assert r.status == 304 and r.body == b"", r
    assert r.header("etag") == '"abc~gzip"'
    assert r.header("x-cache") == "HIT"
    assert len(corigin.seen("/inm")) == 1, "the conditional went to the origin"


def test_if_none_match_with_the_identity_tag_on_a_gzip_request_is_200(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url, stored = stored_gzip(m, corigin, "/inm-id")
    r = get(m, url, ae="gzip", headers=[("If-None-Match", '"abc"')])
    assert_coded(r, "gzip", what="identity tag on the gzip variant")
    assert r.header("etag") == '"abc~gzip"'
    # and the identity tag still matches the identity variant
    get(m, url, ae="identity")
    quiescent(cache_dir(m))
    r = get(m, url, ae="identity", headers=[("If-None-Match", '"abc"')])
    assert r.status == 304 and r.header("etag") == '"abc"', r
    r = get(m, url, ae="identity", headers=[("If-None-Match", '"abc~gzip"')])
    assert_coded(r, "identity", what="gzip tag on the identity variant")


def test_revalidation_of_a_stale_gzip_variant_sends_the_origins_tag(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url, stored = stored_gzip(m, corigin, "/reval", cc="max-age=1")
    time.sleep(1.3)
    r = get(m, url, ae="gzip")
    reqs = corigin.seen("/reval")
    assert len(reqs) == 2
    assert reqs[1].header_all("if-none-match") == ['"abc"'], \
        "revalidation sent %r" % reqs[1].header_all("if-none-match")
    assert reqs[1].header_all("accept-encoding") == ["gzip"]
    assert r.header("x-cache") == "REVALIDATED", r
    assert_coded(r, "gzip", what="revalidated")
    assert r.body == stored.body, "a 304 refresh serves the stored encoded bytes"
    assert r.header("etag") == '"abc~gzip"'
    again = get(m, url, ae="gzip")
    assert_hit(again, "gzip")
    assert again.header("etag") == '"abc~gzip"'
    assert len(corigin.seen("/reval")) == 2


def test_conditional_miss_with_a_derived_tag_reaches_the_origin_with_its_own(magpie_factory,
                                                                             corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/cond-miss", etag='"abc"', headers=[CACHED])
    r = get(m, url, ae="gzip", headers=[("If-None-Match", '"abc~gzip", "other"')])
    reqs = corigin.seen("/cond-miss")
    assert len(reqs) == 1
    tags = [t.strip() for v in reqs[0].header_all("if-none-match") for t in v.split(",")]
    assert '"abc"' in tags and '"abc~gzip"' not in tags, "the origin got If-None-Match %r" % tags
    assert r.status == 304, r
    assert r.header("etag") == '"abc~gzip"', "the 304 names the variant the client holds"


def test_if_match_with_a_derived_tag_reaches_the_origin_with_its_own(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/if-match", etag='"abc"')
    r = get(m, url, ae="gzip", headers=[("If-Match", '"abc~gzip"')])
    assert_coded(r, "gzip")
    sent = corigin.seen("/if-match")[0].header_all("if-match")
    assert sent == ['"abc"'], "the origin got If-Match %r" % sent


# -- 5. what is not compressed ----------------------------------------------------------

def assert_identity(r, body=BODY, what=""):
    assert r.status == 200 and r.complete, "%s: %r" % (what, r)
    assert r.header("content-encoding") is None, "%s: Content-Encoding %r" % (
        what, r.header("content-encoding"))
    assert r.body == body, "%s: the body changed (%d bytes of %d)" % (what, len(r.body), len(body))


@pytest.mark.parametrize("ctype,compressed", [
    ("text/plain; charset=utf-8", True),
    ("text/html", True),
    ("application/json", True),
    ("application/vnd.api+json", True),
    ("application/atom+xml", True),
    ("image/svg+xml", True),
    ("image/png", False),
    ("application/octet-stream", False),
    (None, False),
])
def test_only_listed_types_are_compressed(magpie_factory, corigin, ctype, compressed):
    m = compressing(magpie_factory)
    url = corigin.add("/type", ctype=ctype)
    r = get(m, url, ae="gzip")
    if compressed:
        assert_coded(r, "gzip", what=ctype)
    else:
        assert_identity(r, what=str(ctype))


def test_compression_types_setting_replaces_the_list(magpie_factory, corigin):
    m = compressing(magpie_factory, types=["application/x-custom"])
    custom = corigin.add("/custom", ctype="application/x-custom")
    plain = corigin.add("/plain")
    assert_coded(get(m, custom, ae="gzip"), "gzip", what="listed")
    assert_identity(get(m, plain, ae="gzip"), what="text/plain, no longer listed")


def test_no_transform_is_not_compressed(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/nt", headers=[("Cache-Control", "public, max-age=60, no-transform")])
    for i in range(2):
        r = get(m, url, ae="gzip, br, zstd")
        assert_identity(r, what="try %d" % i)
        quiescent(cache_dir(m))


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "deflate"])
def test_an_encoded_body_goes_as_it_is_to_a_client_accepting_it(magpie_factory, corigin, coding):
    m = compressing(magpie_factory)
    enc = encode(coding, BODY)
    url = corigin.add("/pre", body=enc, headers=[("Content-Encoding", coding)])
    r = get(m, url, ae="gzip, br, zstd, deflate")
    assert r.status == 200 and coding_of(r) == coding
    assert r.body == enc, "the origin's encoded bytes were changed"


@pytest.mark.parametrize("size,compressed", [(1023, False), (1024, True)])
def test_min_size_default_is_1_kib(magpie_factory, corigin, size, compressed):
    m = compressing(magpie_factory)
    body = text(size)
    r = get(m, corigin.add("/size", body=body), ae="gzip")
    if compressed:
        assert_coded(r, "gzip", body)
    else:
        assert_identity(r, body)


def test_min_size_setting(magpie_factory, corigin):
    m = compressing(magpie_factory, min_size="4KiB")
    small, big = text(4000), text(5000)
    assert_identity(get(m, corigin.add("/small", body=small), ae="gzip"), small)
    assert_coded(get(m, corigin.add("/big", body=big), ae="gzip"), "gzip", big)
    # a chunked body's length is unknown: it is compressed however short
    assert_coded(get(m, corigin.add("/small-chunked", body=small, framing="chunked"), ae="gzip"),
                 "gzip", small)


def test_204_and_304_are_not_encoded(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/nocontent", status=204)
    r = get(m, url, ae="gzip")
    assert r.status == 204 and r.header("content-encoding") is None and r.body == b"", r
    url = corigin.add("/notmod", etag='"t"')
    r = get(m, url, ae="gzip", headers=[("If-None-Match", '"t"')])
    assert r.status == 304 and r.header("content-encoding") is None and r.body == b"", r


def assert_range(r, body, a, b, what):
    assert r.status == 206, "%s: %r" % (what, r)
    assert r.header("content-encoding") is None, "%s: a range of an encoded body" % what
    assert r.header("content-range") == "bytes %d-%d/%d" % (a, b, len(body)), what
    assert r.body == body[a:b + 1], "%s: not the identity bytes %d-%d" % (what, a, b)


def test_range_is_answered_from_the_identity_representation(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = corigin.add("/range", headers=[CACHED], ranges=True, etag='"r"')
    r = get(m, url, ae="gzip", headers=[("Range", "bytes=100-199")])
    assert_range(r, BODY, 100, 199, "on a miss")
    for q in corigin.seen("/range"):
        assert q.header_all("accept-encoding") == ["identity"], \
            "a range request negotiates identity, the origin got %r" % \
            q.header_all("accept-encoding")
    # with the gzip variant stored, a range still comes from identity bytes
    assert_coded(get(m, url, ae="gzip"), "gzip", what="the gzip variant")
    quiescent(cache_dir(m))
    r = get(m, url, ae="gzip", headers=[("Range", "bytes=1000-1099")])
    assert_range(r, BODY, 1000, 1099, "with the gzip variant stored")


def test_event_stream_is_not_compressed(magpie_factory, corigin):
    m = compressing(magpie_factory)
    events = b"".join(b"data: event %d %s\n\n" % (i, b"x" * 100) for i in range(40))
    url = corigin.add("/events", body=events, ctype="text/event-stream", framing="chunked")
    assert_identity(get(m, url, ae="gzip"), events)


def test_connect_tunnel_is_untouched(magpie_factory, corigin):
    m = magpie_factory(compression=ON, connect={"allowed_ports": [corigin.port]})
    corigin.add("/tunnel")
    c, status, _ = open_tunnel(m, "127.0.0.1:%d" % corigin.port)
    with c:
        assert status == 200
        r = c.request("GET", "/tunnel", host="127.0.0.1",
                      headers=[("Accept-Encoding", "gzip, br;q=0.5"), ("Connection", "close")])
        assert_identity(r, what="through the tunnel")
    assert origin_ae(corigin, "/tunnel") == ["gzip, br;q=0.5"], "the tunnel's bytes changed"
    assert coding_field(m, lambda l: " CONNECT " in l) == "-"


@pytest.mark.time_limit(30)
def test_websocket_is_untouched(magpie_factory, ws_origin):
    import aiohttp

    m = magpie_factory(compression=ON)
    big = text(100000).decode()

    async def main():
        async with aiohttp.ClientSession(trust_env=False) as s:
            async with s.ws_connect("http://127.0.0.1:%d/ws" % ws_origin.port,
                                    proxy=m.proxy_url, headers={"Accept-Encoding": "gzip"},
                                    max_msg_size=0, timeout=10, receive_timeout=10) as ws:
                got = []
                for msg in ("hello", big, "last"):
                    await ws.send_str(msg)
                    got.append(await ws.receive_str())
                await ws.close()
                return got

    assert run_async(main(), timeout=25) == ["hello", big, "last"]


def test_compression_off_by_default(magpie, corigin):
    url = corigin.add("/off", headers=[CACHED])
    ae = "gzip, deflate, br;q=0.5, x-foo"
    r = get(magpie, url, ae=ae)
    assert_identity(r, what="compression.enabled defaults to false")
    assert "accept-encoding" not in vary_tokens(r)
    assert origin_ae(corigin, "/off") == [ae], "Accept-Encoding not forwarded as sent"


def test_compression_enabled_false(magpie_factory, corigin):
    m = magpie_factory(compression={"enabled": False})
    url = corigin.add("/off2")
    r = get(m, url, ae="gzip")
    assert_identity(r)
    assert origin_ae(corigin, "/off2") == ["gzip"]


def test_route_enables_compression_when_global_is_off(magpie_factory, corigin):
    m = magpie_factory(routes=[{"host": "api.local", "origin": corigin.url(""),
                                "compression": {"enabled": True}}])
    corigin.add("/route")
    r = fetch(m.port, "GET", "/route", host="api.local", headers=[("Accept-Encoding", "gzip")])
    assert_coded(r, "gzip", what="reverse route with compression on")
    assert origin_ae(corigin, "/route") == ["gzip"]
    r = get(m, corigin.url("/route"), ae="gzip, br;q=0.5")
    assert_identity(r, what="forward mode follows the global setting (off)")
    assert origin_ae(corigin, "/route") == ["gzip, br;q=0.5"]


def test_route_disables_compression_when_global_is_on(magpie_factory, corigin):
    m = magpie_factory(compression=ON,
                       routes=[{"host": "api.local", "origin": corigin.url(""),
                                "compression": {"enabled": False}}])
    corigin.add("/route-off")
    r = fetch(m.port, "GET", "/route-off", host="api.local",
              headers=[("Accept-Encoding", "gzip, br;q=0.5")])
    assert_identity(r, what="reverse route with compression off")
    assert origin_ae(corigin, "/route-off") == ["gzip, br;q=0.5"]
    assert_coded(get(m, corigin.url("/route-off"), ae="gzip"), "gzip", what="forward mode")


# -- 6. HEAD ------------------------------------------------------------------------------

def assert_same_head(h, g, what):
    for name in ("content-encoding", "etag"):
        assert h.header(name) == g.header(name), "%s: HEAD %s %r, GET %r" % (
            what, name, h.header(name), g.header(name))
    assert sorted(vary_tokens(h)) == sorted(vary_tokens(g)), "%s: Vary %r vs %r" % (
        what, h.header_all("vary"), g.header_all("vary"))


@pytest.mark.parametrize("coding", ["gzip", "zstd", "identity"])
def test_head_has_the_get_heads_coding_fields(magpie_factory, corigin, coding):
    m = compressing(magpie_factory)
    url = corigin.add("/head", etag='"h"', headers=[CACHED])
    h_miss = get(m, url, ae=coding, method="HEAD")
    assert h_miss.status == 200 and h_miss.body == b""
    if coding != "identity":
        assert h_miss.header("content-length") != str(len(BODY)), \
            "a HEAD of an encoded variant with the identity length: %r" % h_miss
    g = get(m, url, ae=coding)
    assert_coded(g, coding)
    assert "accept-encoding" in vary_tokens(g)
    assert g.header("etag") == ('"h"' if coding == "identity" else '"h~%s"' % coding)
    assert_same_head(h_miss, g, "miss")
    quiescent(cache_dir(m))
    g_hit = get(m, url, ae=coding)
    h_hit = get(m, url, ae=coding, method="HEAD")
    assert_hit(h_hit, coding)
    assert_same_head(h_hit, g_hit, "hit")
    assert h_hit.header("content-length") == g_hit.header("content-length")


# -- 7. decompression for clients that do not accept the origin's coding ---------------------

ORIGIN_CODINGS = ["gzip", "x-gzip", "deflate", "br", "zstd"]


def encoded_doc(corigin, path, coding, body=BODY, etag='"abc"', **kw):
    return corigin.add(path, body=encode(coding, body), etag=etag,
                       headers=[("Content-Encoding", coding)] + list(kw.pop("headers", [])), **kw)


def assert_decoded(r, body=BODY, etag='W/"abc"', what=""):
    assert r.status == 200 and r.complete, "%s: %r" % (what, r)
    assert r.header("content-encoding") is None, "%s: Content-Encoding %r" % (
        what, r.header("content-encoding"))
    assert r.chunked and r.header("content-length") is None, \
        "%s: a decoded body's length is not known beforehand: %r" % (what, r)
    assert r.body == body, "%s: %d bytes, not the identity ones" % (what, len(r.body))
    assert r.header("etag") == etag, "%s: ETag %r" % (what, r.header("etag"))


@pytest.mark.parametrize("coding", ORIGIN_CODINGS)
@pytest.mark.parametrize("ae", [None, "identity"])
def test_origin_coding_is_decoded_for_a_client_without_it(magpie_factory, corigin, coding, ae):
    m = compressing(magpie_factory)
    url = encoded_doc(corigin, "/dec", coding)
    assert_decoded(get(m, url, ae=ae), what="%s to Accept-Encoding %r" % (coding, ae))


def read_stream(s, what):
    """The whole body of a Stream; a stall is a failure that says how far it got."""
    got = []
    try:
        for piece in s.pieces():
            got.append(piece)
    except TimeoutError:
        n = sum(len(p) for p in got)
        pytest.fail("%s: the body stalled after %d bytes" % (what, n))
    finally:
        s.close()
    return b"".join(got)


def at_once(body):
    """A handler: the head, then the whole body in one write, as a server
    sending a file does, so the origin is done while the encoder still
    holds the end of its stream."""
    def handler(o, req):
        req.drain()
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                         b"Cache-Control: no-store\r\nContent-Length: %d\r\n\r\n" % len(body))
        time.sleep(0.02)  # the head alone first, as a server's header write and its sendfile
        req.conn.sendall(body)
        return True
    return handler


@pytest.mark.parametrize("slow", [False, True], ids=["reader", "slow-reader"])
@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_an_encoded_body_ends_after_its_origin(magpie_factory, corigin, coding, slow):
    """A very compressible body: brotli and zstd keep most of their output
    for the end of the stream, which comes after the origin finished and
    may not fit the client buffer; the rest, and the last chunk, must
    still come as the client reads."""
    m = compressing(magpie_factory)
    rnd = random.Random(2)
    words = b"the quick brown fox jumps over a lazy dog near the proxy cache".split()
    body = b" ".join(rnd.choice(words) for _ in range(250000))[:1024 * KIB]
    url = corigin.add("/at-once-%s-%d" % (coding, slow), handler=at_once(body))
    s = Stream(m, url, ae=coding, timeout=10, rcvbuf=16 * KIB if slow else None)
    got = []
    try:
        for piece in s.pieces():
            got.append(piece)
            if slow:
                time.sleep(0.002)
    except TimeoutError:
        pytest.fail("%s: the encoded body stalled after %d bytes" % (coding, sum(map(len, got))))
    finally:
        s.close()
    assert s.complete, "%s: no last chunk" % coding
    assert decode(coding, b"".join(got)) == body


@pytest.mark.parametrize("stored", [False, True], ids=["relayed", "hit"])
@pytest.mark.parametrize("coding", ORIGIN_CODINGS)
def test_a_body_inflating_far_beyond_its_size_is_decoded_whole(magpie_factory, corigin, coding,
                                                               stored):
    """Each piece of the encoded body decodes to much more than a slice of
    the chain: the decoder must come back for the rest as the client drains
    it, also once the encoded body has ended. Relayed from the origin, or
    from the stored encoded bytes on a hit."""
    m = compressing(magpie_factory)
    body = b"".join(b"magpie line %d\n" % (i % 10) for i in range(200000))
    url = encoded_doc(corigin, "/inflate", coding, body=body, ctype="application/octet-stream",
                      headers=[CACHED] if stored else [])
    if stored:
        assert get(m, url, ae=coding).body == encode(coding, body)
        quiescent(cache_dir(m))
    s = Stream(m, url, timeout=3.0)
    got = read_stream(s, coding)
    assert s.status == 200 and s.header("content-encoding") is None, s.headers
    if stored:
        assert s.header("x-cache") == "HIT", s.headers
    assert s.complete, "%s: no last chunk after %d bytes" % (coding, len(got))
    assert len(got) == len(body) and got == body, "%s: %d bytes of %d" % (
        coding, len(got), len(body))


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_stored_encoded_body_is_decoded_for_a_client_without_it(magpie_factory, corigin,
                                                                  coding):
    """The store keeps the origin's encoded bytes; a hit for a client that
    does not accept them is decoded on the way out."""
    m = compressing(magpie_factory)
    enc = encode(coding, BODY)
    url = encoded_doc(corigin, "/stored-enc", coding, headers=[CACHED])
    first = get(m, url, ae=coding)
    assert first.status == 200 and coding_of(first) == coding and first.body == enc, first
    quiescent(cache_dir(m))
    r = get(m, url)
    assert_decoded(r, what="a hit decoded")
    assert r.header("x-cache") == "HIT", r
    again = get(m, url, ae=coding)
    assert again.header("x-cache") == "HIT" and again.body == enc, \
        "the stored bytes are the origin's, not a decoded copy"
    assert len(corigin.seen("/stored-enc")) == 1


def test_decoded_weak_etag_stays_weak(magpie_factory, corigin):
    m = compressing(magpie_factory)
    url = encoded_doc(corigin, "/dec-weak", "gzip", etag='W/"abc"')
    assert_decoded(get(m, url))


@pytest.mark.parametrize("coding,ae", [("gzip", "br"), ("br", "gzip, zstd"), ("zstd", "gzip")])
def test_origin_coding_the_client_does_not_accept_is_not_sent(magpie_factory, corigin, coding, ae):
    m = compressing(magpie_factory)
    url = encoded_doc(corigin, "/dec-other", coding)
    r = get(m, url, ae=ae)
    assert r.status == 200 and r.complete, r
    got = coding_of(r)
    assert got == "identity" or got in [t.strip() for t in ae.split(",")], \
        "sent %s to a client accepting %s" % (got, ae)
    assert decode(got, r.body) == BODY


def test_curl_without_compressed_gets_the_identity_bytes(magpie_factory, corigin, tmp_path):
    m = compressing(magpie_factory)
    url = encoded_doc(corigin, "/curl-plain", "gzip")
    out, hdr = tmp_path / "body", tmp_path / "head"
    p = curl("-x", m.proxy_url, "-D", str(hdr), "-o", str(out), url)
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    h = curl_headers(hdr)
    assert h.status == 200 and h.header("content-encoding") is None, h
    assert "chunked" in h.tokens("transfer-encoding") and h.header("content-length") is None
    assert h.header("etag") == 'W/"abc"'
    assert out.read_bytes() == BODY
    assert origin_ae(corigin, "/curl-plain") == ["identity"]


def test_decompress_false_passes_the_origin_coding(magpie_factory, corigin):
    m = compressing(magpie_factory, decompress=False)
    enc = encode("gzip", BODY)
    url = corigin.add("/nodec", body=enc, headers=[("Content-Encoding", "gzip")])
    r = get(m, url)
    assert r.status == 200 and coding_of(r) == "gzip" and r.body == enc, r


def bomb():
    """About 500 KiB of gzip inflating to 512 MiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    out = [c.compress(zeros) for _ in range(512)]
    out.append(c.flush())
    return b"".join(out)


@pytest.mark.time_limit(90)
def test_gzip_bomb_decodes_with_bounded_memory(magpie_factory, corigin):
    m = magpie_factory(compression=ON, env=LOW_QUARANTINE)
    warm = encoded_doc(corigin, "/warm", "gzip", body=text(300000))
    assert_decoded(get(m, warm), body=text(300000), what="warm-up")
    data = bomb()
    assert len(data) < 520 * KIB
    url = corigin.add("/bomb", body=data, ctype="application/octet-stream",
                      headers=[("Content-Encoding", "gzip")], piece=64 * KIB)
    rss0, _ = m.memory()
    s = Stream(m, url, timeout=10, rcvbuf=256 * KIB)
    try:
        assert s.status == 200 and s.header("content-encoding") is None, s.headers
        total, paused, rss_paused, nonzero, stalled = 0, False, None, 0, False
        try:
            for piece in s.pieces():
                total += len(piece)
                nonzero += len(piece) - piece.count(0)
                if not paused and total >= 64 * MIB:
                    paused = True
                    time.sleep(1.0)  # a reader this slow: magpie must not inflate ahead of it
                    rss_paused, _ = m.memory()
        except TimeoutError:
            stalled = True  # reported after the memory checks
    finally:
        s.close()
    rss1, hwm1 = m.memory()
    assert rss_paused is not None, "only %d bytes decoded" % total
    assert rss_paused - rss0 <= 16 * MIB, "RSS grew %.1f MiB while the client paused" % (
        (rss_paused - rss0) / MIB)
    assert hwm1 - rss0 <= 16 * MIB, "peak RSS %.1f MiB above the start (%.1f MiB)" % (
        (hwm1 - rss0) / MIB, rss0 / MIB)
    assert not stalled, "the decoded body stalled after %d of %d bytes" % (total, 512 * MIB)
    assert s.complete, "the decoded body ended after %d bytes" % total
    assert total == 512 * MIB and nonzero == 0, "%d bytes decoded, %d not zero" % (total, nonzero)


DECODE_ERROR = r"(?im)^\S+ \[(error|warn|info)\] .*(corrupt|truncat|decod|inflat)"


def assert_ends_visibly(m, url, what):
    """A 200 whose chunked body stops without its last chunk, the connection
    closed."""
    s = Stream(m, url, timeout=5.0)
    try:
        body = b"".join(s.pieces())
    except TimeoutError:
        pytest.fail("%s: the response neither ended nor was closed" % what)
    finally:
        s.close()
    assert s.status == 200, "%s: status %s" % (what, s.status)
    assert "chunked" in s.r.tokens("transfer-encoding"), "%s: %r" % (what, s.headers)
    assert not s.complete, "%s: a bad stream ended like a complete body (%d bytes)" % (
        what, len(body))
    assert s.eof, "%s: the body's framing broke with the connection open" % what
    return body


def corrupt(data):
    b = bytearray(data)
    at = len(b) * 8 // 10
    for i in range(at, at + 16):
        b[i] ^= 0xFF
    return bytes(b)


def test_corrupt_gzip_ends_the_response_visibly(magpie_factory, corigin):
    m = compressing(magpie_factory)
    body = text(200000)
    bad = corrupt(gzip_bytes(body))
    url = corigin.add("/corrupt", body=bad, headers=[("Content-Encoding", "gzip"), CACHED])
    got = assert_ends_visibly(m, url, "first")
    assert len(got) < len(body) or got != body
    m.wait_error_log(DECODE_ERROR)
    quiescent(cache_dir(m))
    assert_ends_visibly(m, url, "second: nothing decoded was stored")
    r = get(m, url, ae="gzip")
    assert r.status == 200 and coding_of(r) == "gzip" and r.body == bad, \
        "a client accepting gzip gets the origin's bytes as they are"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_truncated_stream_ends_the_response_visibly(magpie_factory, corigin, coding):
    """The HTTP framing is complete (Content-Length of what was sent) but the
    coded stream stops in the middle."""
    m = compressing(magpie_factory)
    enc = encode(coding, text(200000))
    cut = enc[:len(enc) * 6 // 10]
    url = corigin.add("/trunc", body=cut, headers=[("Content-Encoding", coding)])
    assert_ends_visibly(m, url, coding)
    m.wait_error_log(DECODE_ERROR)


def test_requests_and_httpx_see_a_corrupt_stream_as_an_error(magpie_factory, corigin):
    import httpx
    import requests

    m = compressing(magpie_factory)
    url = corigin.add("/corrupt2", body=corrupt(gzip_bytes(text(200000))),
                      headers=[("Content-Encoding", "gzip")])
    with session() as s:
        with pytest.raises((requests.exceptions.ChunkedEncodingError,
                            requests.exceptions.ConnectionError)):
            s.get(url, proxies={"http": m.proxy_url}, timeout=15,
                  headers={"Accept-Encoding": "identity"})
    with httpx.Client(proxies=m.proxy_url, trust_env=False, timeout=15) as c:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.get(url, headers={"Accept-Encoding": "identity"})


# -- 8. streaming --------------------------------------------------------------------------

@pytest.mark.time_limit(60)
def test_ten_mib_chunked_body_is_compressed_with_bounded_memory(magpie_factory, corigin):
    m = magpie_factory(compression=ON, env=LOW_QUARANTINE)
    block = text(MIB, seed=3)
    body = b"".join(b"block %d\n" % i + block[:MIB - 7 - len(str(i))] for i in range(10))
    assert len(body) == 10 * MIB
    url = corigin.add("/ten", body=body, framing="chunked", piece=64 * KIB)
    warm = corigin.add("/ten-warm", body=text(200000), framing="chunked")
    assert_coded(get(m, warm, ae="gzip"), "gzip", text(200000), what="warm-up")
    rss0, _ = m.memory()
    s = Stream(m, url, ae="gzip", timeout=30, rcvbuf=256 * KIB)
    d = Decoder("gzip")
    h = hashlib.sha256()
    decoded, wire, rss_paused = 0, 0, None
    try:
        assert s.status == 200 and s.header("content-encoding") == "gzip", s.headers
        for piece in s.pieces():
            wire += len(piece)
            out = d.feed(piece)
            h.update(out)
            decoded += len(out)
            if rss_paused is None and decoded >= 2 * MIB:
                time.sleep(1.0)  # a slow reader: magpie must not buffer the rest
                rss_paused, _ = m.memory()
    finally:
        s.close()
    rss1, hwm1 = m.memory()
    assert s.complete and d.complete(), "the encoded body did not end (%d bytes)" % wire
    assert decoded == len(body) and h.hexdigest() == sha(body)
    assert wire < len(body) // 2, "%d bytes on the wire for %d" % (wire, len(body))
    assert rss_paused - rss0 <= 8 * MIB, "RSS grew %.1f MiB while the client paused" % (
        (rss_paused - rss0) / MIB)
    assert hwm1 - rss0 <= 8 * MIB, "peak RSS %.1f MiB above the start" % ((hwm1 - rss0) / MIB)


def gated(first, second, sent_last, gate):
    """A handler: a chunked text body whose first piece goes at once and
    whose second waits (at most 5 s) until the test opens the gate."""
    def handler(o, req):
        req.drain()
        o.send_head(req, 200, [("Content-Type", "text/plain")], chunked=True)
        req.conn.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        gate.wait(5)
        sent_last.set()
        req.conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
        return True
    return handler


@pytest.mark.parametrize("coding", CODINGS)
def test_slow_body_is_flushed_as_it_comes(magpie_factory, corigin, coding):
    m = compressing(magpie_factory)
    first, second = text(8000, seed=11), text(8000, seed=12)
    sent_last, gate = threading.Event(), threading.Event()
    url = corigin.add("/slowly", handler=gated(first, second, sent_last, gate))
    s = Stream(m, url, ae=coding, timeout=4.0)
    d = Decoder(coding)
    got = b""
    early = None
    try:
        assert s.status == 200 and s.header("content-encoding") == coding, s.headers
        pieces = s.pieces()
        s.deadline = time.monotonic() + 3.0  # the origin waits 5 s for the gate
        try:
            while len(got) < len(first):
                got += d.feed(next(pieces))
        except (TimeoutError, StopIteration):
            pytest.fail("%d of the first %d bytes decodable before the origin went on"
                        % (len(got), len(first)))
        early = not sent_last.is_set()
        gate.set()
        s.deadline = None
        s.c.sock.settimeout(10)
        for piece in pieces:
            got += d.feed(piece)
    finally:
        gate.set()
        s.close()
    assert early, "the first piece arrived only after the origin sent the last one"
    assert s.complete and d.complete()
    assert got == first + second


# -- 9. the access log ------------------------------------------------------------------------

def test_access_log_names_the_coding_sent(magpie_factory, corigin):
    m = compressing(magpie_factory)
    cases = []

    def check(path, want, ae=None, method="GET", **doc):
        url = doc.pop("url", None) or corigin.add(path, **doc)
        get(m, url, ae=ae, method=method)
        cases.append((url, method, want))

    check("/log/gzip", "gzip", ae="gzip")
    check("/log/br", "br", ae="br")
    check("/log/zstd", "zstd", ae="zstd, br;q=0.5")
    check("/log/identity", "identity", ae="identity")
    check("/log/png", "identity", ae="gzip", ctype="image/png")
    check("/log/decoded", "identity", url=encoded_doc(corigin, "/log/decoded", "gzip"))
    check("/log/passed", "deflate", ae="deflate",
          url=encoded_doc(corigin, "/log/passed", "deflate"))
    check("/log/nocontent", "-", ae="gzip", status=204)
    check("/log/head", "-", ae="gzip", method="HEAD")
    stored = corigin.add("/log/hit", headers=[CACHED])
    get(m, stored, ae="br")
    quiescent(cache_dir(m))
    check("/log/hit", "br", ae="br", url=stored)
    wrong = []
    for url, method, want in cases:
        lines = poll(lambda: [l for l in m.access_log_lines()
                              if l.split()[2:4] == [method, url]])
        got = lines[-1].split()[10] if lines else None  # coding, then followed
        if got != want:
            wrong.append("%s %s: coding field %r, wanted %r (%s)" % (method, url, got, want,
                                                                   lines[-1] if lines else ""))
    assert not wrong, "\n".join(wrong)
