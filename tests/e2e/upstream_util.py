"""
upstream_util.py - fixtures and helpers for the upstream-side tests: the
connection pool, retries, HTTPS origins, CONNECT tunnels, WebSocket and TLS
listeners (test_pool.py, test_https.py, test_tunnel.py, test_websocket.py,
test_tls_listener.py). Test modules do `from upstream_util import *`.

Pieces:
  certs              (session) a test CA and leaves made with the openssl CLI:
                     leaf (origin.test, localhost, 127.0.0.1), expired,
                     wronghost (wrong.test only), unknown (the same names,
                     signed by an unrelated CA), selfsigned
  TrackingOrigin     origin.Origin plus optional TLS, open-connection counts
                     (now and at most), close times, server-side
                     session_reused per TLS connection, and /drop-reused
  tracking_origin    a plain TrackingOrigin; tls_origin_factory(cert name)
  AioServer          an aiohttp.web app served from its own thread and loop
  ws_origin          an AioServer with a WebSocket echo at /ws
  magpie_listen_factory(listen_fn, **overrides) like conftest's magpie_factory,
                     but listen is listen_fn(port), so the listener that
                     readiness polls can be a TLS one
  open_tunnel()      CONNECT over a raw connection; access_fields()

Everything runs on loopback; every process and thread started here is
stopped at teardown, and every wait is bounded.
"""

import asyncio
import socket
import ssl
import subprocess
import threading
import time
from types import SimpleNamespace

import pytest

from conftest import Magpie, StartError, clean_env, default_config, free_port
from origin import Origin
import rawhttp

__all__ = [
    "certs", "TrackingOrigin", "tracking_origin", "tls_origin_factory", "AioServer",
    "ws_origin", "magpie_listen_factory", "server_context", "client_context",
    "open_tunnel", "access_fields", "run_async", "curl", "https_get",
]

CERT_DAYS = "30"


# -- certificates ------------------------------------------------------------------

def _openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=str(cwd), env=clean_env(), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), p.stderr)


def _new_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".crt", "-days", CERT_DAYS, "-subj",
             "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _new_csr(d, name, cn):
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)


def _leaf_ext(d, name, san):
    p = d / (name + ".ext")
    p.write_text("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                 "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" % san)
    return p.name


def _signed_leaf(d, name, ca, cn, san):
    _new_csr(d, name, cn)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
             "-CAcreateserial", "-days", CERT_DAYS, "-extfile", _leaf_ext(d, name, san),
             "-out", name + ".crt", cwd=d)


def _expired_leaf(d, name, ca, cn, san):
    """`openssl ca` is the 3.0 CLI's way to set both validity dates."""
    db = d / "cadb"
    db.mkdir(exist_ok=True)
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca = testca\n"
        "[testca]\ndatabase = cadb/index.txt\nserial = cadb/serial\nnew_certs_dir = cadb\n"
        "certificate = %s.crt\nprivate_key = %s.key\ndefault_md = sha256\n"
        "policy = anything\ncopy_extensions = none\nunique_subject = no\n"
        "[anything]\ncommonName = supplied\n"
        "[leafext]\nsubjectAltName = %s\nbasicConstraints = CA:FALSE\n"
        "extendedKeyUsage = serverAuth\n" % (ca, ca, san))
    _new_csr(d, name, cn)
    _openssl("ca", "-batch", "-config", "ca.cnf", "-extensions", "leafext",
             "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
             "-in", name + ".csr", "-out", name + ".crt", "-notext", cwd=d)


GOOD_SAN = "DNS:origin.test,DNS:localhost,IP:127.0.0.1"


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """Paths: ca, ca2 and, for each leaf NAME, NAME (cert) and NAME_key."""
    d = tmp_path_factory.mktemp("certs")
    _new_ca(d, "ca", "magpie test CA")
    _new_ca(d, "ca2", "unrelated test CA")
    _signed_leaf(d, "leaf", "ca", "origin.test", GOOD_SAN)
    _signed_leaf(d, "wronghost", "ca", "wrong.test", "DNS:wrong.test")
    _signed_leaf(d, "unknown", "ca2", "origin.test", GOOD_SAN)
    _expired_leaf(d, "expired", "ca", "origin.test", GOOD_SAN)
    _new_csr(d, "selfsigned", "origin.test")
    _openssl("x509", "-req", "-in", "selfsigned.csr", "-signkey", "selfsigned.key",
             "-days", CERT_DAYS, "-extfile", _leaf_ext(d, "selfsigned", GOOD_SAN),
             "-out", "selfsigned.crt", cwd=d)
    ns = SimpleNamespace(dir=d, ca=d / "ca.crt", ca2=d / "ca2.crt")
    for name in ("leaf", "wronghost", "unknown", "expired", "selfsigned"):
        setattr(ns, name, d / (name + ".crt"))
        setattr(ns, name + "_key", d / (name + ".key"))
    return ns


def server_context(certs, name="leaf"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(getattr(certs, name)), str(getattr(certs, name + "_key")))
    return ctx


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=str(cafile))
    return ctx


# -- origins -----------------------------------------------------------------------

class TrackingOrigin(Origin):
    """The numbering origin, optionally behind TLS, that also tracks open
    connections. Extra endpoint:
      /drop-reused   on a connection's first request: 200 "fresh\\n"; on any
                     later one: reads the request, closes without answering
    """

    def __init__(self, host="127.0.0.1", ssl_context=None):
        self.ssl_context = ssl_context
        self.open_now = 0
        self.open_max = 0
        self.closed_at = []          # monotonic times the origin saw a close
        self.session_reused = []     # per TLS connection, in handshake order
        self.handshake_errors = []   # str of failed server-side handshakes
        super().__init__(host)

    @property
    def scheme(self):
        return "https" if self.ssl_context else "http"

    def url(self, path="/", host=None):
        h = host or ("[%s]" % self.host if ":" in self.host else self.host)
        return "%s://%s:%d%s" % (self.scheme, h, self.port, path)

    def _serve(self, conn, number):
        with self.lock:
            self.open_now += 1
            self.open_max = max(self.open_max, self.open_now)
        try:
            # origin.py writes a head and a body separately: without this,
            # Nagle and delayed ACKs add 40 ms to every response
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                raw = conn
                raw.settimeout(10)
                try:
                    conn = self.ssl_context.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with self.lock:
                        self.handshake_errors.append(str(e))
                        self._conns.discard(raw)
                    raw.close()
                    return
                with self.lock:
                    self._conns.discard(raw)
                    self._conns.add(conn)
                    self.session_reused.append(conn.session_reused)
            super()._serve(conn, number)
        finally:
            with self.lock:
                self.open_now -= 1
                self.closed_at.append(time.monotonic())

    def close_all(self):
        """Closes every open connection from the origin's side (an idle
        keep-alive connection the origin gives up on)."""
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def closes(self):
        with self.lock:
            return len(self.closed_at)

    def _h_drop_reused(self, req, *args):
        with self.lock:
            n = sum(1 for q in self.requests if q.connection_number == req.connection_number)
        if n == 1:
            return self.respond(req, 200, b"fresh\n", [("Content-Type", "text/plain")])
        req.drain()
        return False


@pytest.fixture
def tracking_origin():
    o = TrackingOrigin()
    yield o
    o.stop()


@pytest.fixture
def tls_origin_factory(certs):
    """tls_origin_factory(cert_name="leaf") -> a TrackingOrigin speaking TLS."""
    made = []

    def make(name="leaf"):
        o = TrackingOrigin(ssl_context=server_context(certs, name))
        made.append(o)
        return o

    yield make
    for o in made:
        o.stop()


class AioServer:
    """An aiohttp.web application on a free loopback port, run by its own
    event loop in its own thread."""

    def __init__(self, app, host="127.0.0.1", ssl_context=None):
        from aiohttp import web

        self.app = app
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error = None
        self._web = web
        self._ssl = ssl_context
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError("aiohttp server did not start: %r" % self._error)

    def _run(self):
        web = self._web
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, handle_signals=False)
        try:
            self.loop.run_until_complete(runner.setup())
            site = web.SockSite(runner, self.sock, ssl_context=self._ssl, shutdown_timeout=1.0)
            self.loop.run_until_complete(site.start())
        except Exception as e:  # reported by __init__
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(runner.cleanup())
            self.loop.close()

    def stop(self):
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def ws_origin():
    """A WebSocket echo at /ws (text and binary); srv.upgrades holds the
    request headers of each upgrade it accepted."""
    from aiohttp import WSMsgType, web

    upgrades = []

    async def ws_echo(request):
        upgrades.append(list(request.headers.items()))
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_echo)
    srv = AioServer(app)
    srv.upgrades = upgrades
    yield srv
    srv.stop()


# -- magpie with a listen list of the test's choosing ---------------------------------

@pytest.fixture
def magpie_listen_factory(tmp_path, origin, dns):
    """magpie_listen_factory(listen_fn, **overrides) -> a started Magpie whose
    listen list is listen_fn(port); m.port (free, chosen here) must be one of
    its listeners, since readiness is a TCP connect to it. A failed start
    raises conftest.StartError (its .magpie is the Magpie, for the logs) and
    is not checked again at teardown."""
    started = []

    def start(listen_fn, **overrides):
        port = free_port()
        workdir = tmp_path / ("listen-magpie%d" % len(started))
        base = default_config(workdir, "127.0.0.1", port, dns, origin)
        overrides = dict(overrides, listen=listen_fn(port))
        m = Magpie(workdir, "127.0.0.1", port, base, overrides, clean_env())
        started.append(m)
        try:
            return m.start()
        except StartError as e:
            m.checked = True
            e.magpie = m
            raise

    yield start

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


# -- clients -------------------------------------------------------------------------

def open_tunnel(magpie, target, timeout=10.0):
    """CONNECT target over a new raw connection: (conn, status, head bytes).
    Bytes after the response head stay in conn.buf."""
    c = rawhttp.Conn(magpie.port, addr=magpie.host, timeout=timeout)
    c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    if not c.wait_for(b"\r\n\r\n"):
        c.close()
        raise rawhttp.Closed("connection closed before a CONNECT response: %r" % c.buf)
    i = c.buf.index(b"\r\n\r\n") + 4
    head, c.buf = c.buf[:i], c.buf[i:]
    status = int(head.split(b" ", 2)[1])
    return c, status, head


def access_fields(line):
    """An access log line as a dict: time client method url status bytes_sent
    ms cache upstream bytes_received (the last one may be missing)."""
    names = ["time", "client", "method", "url", "status", "bytes_sent", "ms", "cache",
             "upstream", "bytes_received"]
    return dict(zip(names, line.split()))


def run_async(coro, timeout=30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def curl(*args, timeout=20):
    """curl with no proxy variables and no ~/.curlrc; the CompletedProcess
    (stdout as bytes)."""
    return subprocess.run(["curl", "-q", "-sS", "--max-time", str(timeout - 5), *args],
                          env=clean_env(), capture_output=True, timeout=timeout)


def https_get(magpie, url, host=None, method="GET", timeout=15.0):
    """An absolute https:// request target sent to magpie over plain HTTP
    (forward proxying to an HTTPS origin, no CONNECT)."""
    return rawhttp.fetch(magpie.port, method, url, addr=magpie.host, timeout=timeout, host=host)
