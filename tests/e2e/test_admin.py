"""The admin listener (admin.listen, admin.allow): GET /metrics in Prometheus
text format 0.0.4, read with the official parser (python3-prometheus-client),
and GET /healthz, 200 while accepting and 503 while draining."""

import signal
import socket
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

import rawhttp
from conftest import free_port, poll
from upstream_util import certs, magpie_listen_factory, tls_origin_factory  # noqa: F401 (fixtures)


def admin_magpie(magpie_factory, config=None, **more):
    port = free_port()
    m = magpie_factory(admin=dict({"listen": ["127.0.0.1:%d" % port]}, **more), **(config or {}))
    m.admin_port = port
    return m


def scrape(m):
    r = rawhttp.fetch(m.admin_port, "GET", "/metrics", host="127.0.0.1")
    assert r.status == 200, r
    assert r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(r.body.decode())}
    return families


def sample(families, family, name=None, **labels):
    for s in families[family].samples:
        if s.name == (name or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0


def test_metrics_count_what_happened(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    url = origin.url("/headers?Cache-Control=max-age%3D60")
    assert rawhttp.fetch(m.port, "GET", url).header("x-cache") == "MISS"
    assert rawhttp.fetch(m.port, "GET", url).header("x-cache") == "HIT"
    assert rawhttp.fetch(m.port, "POST", origin.url("/echo"), body=b"abc").status == 200
    assert rawhttp.fetch(m.port, "GET", origin.url("/status/404")).status == 404
    f = poll(lambda: (lambda x: x if sample(x, "magpie_requests", "magpie_requests_total",
                                            method="POST") else None)(scrape(m)))
    # the parser drops the _total suffix from counter family names
    assert sample(f, "magpie_requests", "magpie_requests_total", method="GET", code="2xx",
                  cache="MISS") == 1
    assert sample(f, "magpie_requests", "magpie_requests_total", method="GET", code="2xx",
                  cache="HIT") == 1
    assert sample(f, "magpie_requests", "magpie_requests_total", method="POST", code="2xx",
                  cache="BYPASS") == 1
    assert sample(f, "magpie_requests", "magpie_requests_total", method="GET", code="4xx",
                  cache="MISS") == 1
    count = sample(f, "magpie_request_duration_seconds", "magpie_request_duration_seconds_count")
    inf = sample(f, "magpie_request_duration_seconds", "magpie_request_duration_seconds_bucket",
                 le="+Inf")
    assert count == inf == 4, (count, inf)
    assert sample(f, "magpie_received_bytes", "magpie_received_bytes_total") == 3
    assert sample(f, "magpie_sent_bytes", "magpie_sent_bytes_total") > 0
    assert sample(f, "magpie_cache_objects") == 1
    assert sample(f, "magpie_connections_accepted", "magpie_connections_accepted_total") >= 5
    assert sample(f, "magpie_build_info", version="0.1.0") == 1


def test_refused_connections_are_counted(magpie_factory, origin):
    """acl refuses the proxy's clients; admin.allow (loopback) lets the scrape in."""
    m = admin_magpie(magpie_factory)
    m.write_config(dict(m.config, acl={"allow": ["10.0.0.0/8"]}))
    m.proc.send_signal(signal.SIGHUP)  # by PID
    poll(lambda: rawhttp.fetch(m.port, "GET", origin.url("/headers")).status == 403)
    f = scrape(m)
    assert sample(f, "magpie_connections_refused", "magpie_connections_refused_total",
                  reason="acl") >= 1
    assert sample(f, "magpie_connections_refused", "magpie_connections_refused_total",
                  reason="limit") == 0


def test_the_admin_listener_answers_only_its_endpoints(magpie_factory, origin):
    m = admin_magpie(magpie_factory)
    before = origin.request_count()
    assert rawhttp.fetch(m.admin_port, "GET", origin.url("/headers")).status == 404
    assert rawhttp.fetch(m.admin_port, "GET", "/other", host="x").status == 404
    assert rawhttp.fetch(m.admin_port, "POST", "/metrics", host="x", body=b"").status == 405
    assert origin.request_count() == before, "nothing on the admin listener is proxied"
    r = rawhttp.fetch(m.admin_port, "GET", "/healthz", host="x")
    assert r.status == 200 and r.body == b"ok\n"
    # and the proxy will not forward to its own admin listener
    r = rawhttp.fetch(m.port, "GET", "http://127.0.0.1:%d/metrics" % m.admin_port)
    assert r.status == 403, r


def test_admin_allow_refuses_other_clients(magpie_factory):
    m = admin_magpie(magpie_factory, allow=["10.0.0.0/8"])
    assert rawhttp.fetch(m.admin_port, "GET", "/metrics", host="x").status == 403


def test_an_admin_listener_cannot_be_a_proxy_listener(magpie_factory, tmp_path):
    import subprocess
    from conftest import clean_env, magpie_bin
    port = free_port()
    path = tmp_path / "m.yaml"
    path.write_text('listen: ["127.0.0.1:%d"]\nadmin: { listen: ["127.0.0.1:%d"] }\n'
                    % (port, port))
    p = subprocess.run([str(magpie_bin()), "-t", "-c", str(path)], capture_output=True,
                       text=True, timeout=10, env=clean_env())
    assert p.returncode == 1
    assert 'admin.listen: "127.0.0.1:%d" is also in listen' % port in p.stderr, p.stderr


def healthz_503(m):
    try:
        r = rawhttp.fetch(m.admin_port, "GET", "/healthz", host="x")
    except rawhttp.Closed:
        return None  # connected just before the drain began: closed as idle
    return r if r.status == 503 else None


def test_healthz_says_503_while_draining(magpie_factory, origin):
    m = admin_magpie(magpie_factory, **{})
    assert rawhttp.fetch(m.admin_port, "GET", "/healthz", host="x").status == 200
    got = []
    slow = threading.Thread(target=lambda: got.append(
        rawhttp.fetch(m.port, "GET", origin.url("/slow/0.8"), timeout=10)))
    slow.start()
    time.sleep(0.2)  # in flight: the drain waits for it (shutdown_timeout is 1s here)
    m.proc.send_signal(signal.SIGTERM)  # by PID
    r = poll(lambda: healthz_503(m))
    assert r.body == b"draining\n" and r.header("connection") == "close"
    # the proxy's own listener no longer accepts
    try:
        socket.create_connection(("127.0.0.1", m.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    slow.join(10)
    assert got and got[0].status == 200, "the request in flight finished"
    assert m.proc.wait(10) == 0
    m.checked = True


def test_a_silent_admin_connection_does_not_outlast_shutdown_timeout(magpie_factory, origin):
    """The admin listener stays open through the drain, but what a client
    opens on it then is closed with the rest at shutdown_timeout (1s here;
    client_idle_timeout is 60s): it cannot keep magpie running."""
    m = admin_magpie(magpie_factory)
    got = []
    slow = threading.Thread(target=lambda: got.append(
        rawhttp.fetch(m.port, "GET", origin.url("/slow/0.3"), timeout=10)))
    slow.start()
    assert poll(lambda: origin.request_count() == 1)
    m.proc.send_signal(signal.SIGTERM)  # by PID
    # a 503 from /healthz says the drain has begun and the listener is still open
    assert poll(lambda: healthz_503(m))
    silent = socket.create_connection(("127.0.0.1", m.admin_port), timeout=10)
    try:
        start = time.monotonic()
        assert m.proc.wait(10) == 0
        took = time.monotonic() - start
        m.checked = True
        assert took < 4, "exit %.2f s after the drain began, shutdown_timeout 1s" % took
        assert silent.recv(1) == b"", "magpie closed the silent connection"
    finally:
        silent.close()
    slow.join(10)
    assert got and got[0].status == 200


# -- the origin, DNS, cache and close metrics, moved by real traffic ------------

def counter(f, family, **labels):
    """A counter's value; the parser drops _total from the family's name."""
    return sample(f, family, family + "_total", **labels)


def hist_count(f, family):
    return sample(f, family, family + "_count")


CLOSE_REASONS = ("client_closed", "client_aborted", "read_error", "write_error", "idle_timeout",
                 "request_timeout", "client_stalled", "tls_failed", "connection_close",
                 "bad_request", "body_unread", "acl", "limit", "shutdown", "shutdown_timeout",
                 "upstream_error", "store_error", "tunnel_end", "overflow", "internal")


def closes(f):
    return {s.labels["reason"]: s.value for s in f["magpie_connections_closed"].samples}


def settled(m):
    """A scrape once every connection but the scrape's own is closed and
    counted: each close has one reason, so accepted = closed + 1 open."""
    def check():
        f = scrape(m)
        accepted = counter(f, "magpie_connections_accepted")
        open_now = sample(f, "magpie_connections_open")
        return f if open_now == 1 and sum(closes(f).values()) == accepted - 1 else None
    return poll(check, timeout=5)


def idle_until_closed(port, timeout=5):
    """A connection that sends nothing; True once magpie closed it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return s.recv(1) == b""
    finally:
        s.close()


def test_metrics_follow_origin_cache_and_close_traffic(magpie_factory, origin, dns):
    from test_cache_validation import ValidatingOrigin
    m = admin_magpie(magpie_factory, config={
        "limits": {"client_idle_timeout": "1s"},
        "routes": [{"host": "api.local", "origin": origin.url(""),
                    "cache": {"default_ttl": "60s"}}]})
    vo = ValidatingOrigin("max-age=1")
    try:
        f0 = settled(m)
        named = "http://origin.test:%d" % origin.port
        fresh = named + "/headers?Cache-Control=max-age%3D60"
        # a miss on a name (one DNS query, one new origin connection), its hit,
        # and a second miss on the connection the first left in the pool
        assert rawhttp.fetch(m.port, "GET", fresh).header("x-cache") == "MISS"
        assert rawhttp.fetch(m.port, "GET", fresh).header("x-cache") == "HIT"
        assert rawhttp.fetch(m.port, "GET", fresh + "&x=2").header("x-cache") == "MISS"
        # while the pooled connection is busy, a second one: the name from the DNS cache
        slow = threading.Thread(target=lambda: rawhttp.fetch(m.port, "GET", named + "/slow/0.6"))
        slow.start()
        time.sleep(0.2)
        assert rawhttp.fetch(m.port, "GET", named + "/headers").status == 200
        slow.join(10)
        # a name the DNS server does not know
        assert rawhttp.fetch(m.port, "GET", "http://nosuch.test/").status in (502, 504)
        # revalidations: one answered 304, one with a full response
        etagged = named + "/headers?ETag=%22e1%22&Cache-Control=max-age%3D1"
        assert rawhttp.fetch(m.port, "GET", vo.url("/doc")).header("x-cache") == "MISS"
        assert rawhttp.fetch(m.port, "GET", etagged).header("x-cache") == "MISS"
        time.sleep(1.3)
        assert rawhttp.fetch(m.port, "GET", vo.url("/doc")).header("x-cache") == "REVALIDATED"
        r = rawhttp.fetch(m.port, "GET", etagged)
        assert r.status == 200 and r.header("x-cache") != "HIT", r
        # a collapsed pair: the second waits on the first's fetch
        pair = []
        lead = threading.Thread(target=lambda: pair.append(
            rawhttp.fetch(m.port, "GET", "/slow/0.5", host="api.local")))
        lead.start()
        time.sleep(0.15)
        pair.append(rawhttp.fetch(m.port, "GET", "/slow/0.5", host="api.local"))
        lead.join(10)
        assert [p.status for p in pair] == [200, 200]
        # closes: idle timeout, Connection: close, a bad request head, a client that leaves
        assert idle_until_closed(m.port)
        r = rawhttp.fetch(m.port, "GET", fresh, headers=[("Connection", "close")])
        assert r.header("x-cache") == "HIT" and r.header("connection") == "close"
        with rawhttp.Conn(m.port) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
            assert c.read_response().status == 400
        socket.create_connection(("127.0.0.1", m.port)).close()
        f1 = settled(m)
    finally:
        vo.stop()

    def d(family, **labels):
        return counter(f1, family, **labels) - counter(f0, family, **labels)

    def dh(family):
        return hist_count(f1, family) - hist_count(f0, family)

    assert d("magpie_dns_queries") == 2  # origin.test, nosuch.test
    assert d("magpie_dns_cache_hits") == 1  # origin.test for the second connection
    assert d("magpie_dns_failures") == 1
    origin_requests = len(origin.requests) + len(vo.requests)
    new, reused = d("magpie_upstream_connections_new"), d("magpie_upstream_connections_reused")
    assert new >= 3 and reused >= 3, (new, reused)  # origin.test twice, vo; the pool's reuses
    up0 = counter(f0, "magpie_upstream_connections_new") + \
        counter(f0, "magpie_upstream_connections_reused")
    assert new + reused + up0 == origin_requests, (new, reused, up0, origin_requests)
    assert dh("magpie_upstream_connect_seconds") == new
    assert dh("magpie_upstream_first_byte_seconds") == new + reused
    assert sample(f1, "magpie_upstream_connections_open") == \
        sample(f1, "magpie_upstream_connections_idle") >= 2
    assert d("magpie_cache_revalidations", result="not_modified") == 1
    assert d("magpie_cache_revalidations", result="full") == 1
    assert d("magpie_cache_collapsed") == 1
    # stored: 2 fresh misses, the two to revalidate, the 304's refresh, the
    # full answer replacing the stale one, the collapsed fetch
    assert d("magpie_cache_stores") == 7
    assert d("magpie_cache_store_failures") == 0
    assert sample(f1, "magpie_cache_objects") >= 5
    c0, c1 = closes(f0), closes(f1)
    assert sorted(c1) == sorted(CLOSE_REASONS), "every reason, zero included"
    delta = {k: c1[k] - c0[k] for k in c1}
    assert delta["idle_timeout"] == 1
    assert delta["connection_close"] == 1
    assert delta["bad_request"] == 1
    # the fetches above close their side first, and so does the last socket
    assert delta["client_closed"] >= 12
    others = {k: v for k, v in delta.items()
              if k not in ("idle_timeout", "connection_close", "bad_request", "client_closed")}
    assert not any(others.values()), others


def test_requests_waiting_for_a_connection_slot_are_counted(magpie_factory, origin):
    m = admin_magpie(magpie_factory, config={"upstream": {"pool": {"max_per_origin": 1}}})
    f0 = scrape(m)
    got = []
    ts = [threading.Thread(target=lambda i=i: got.append(
        rawhttp.fetch(m.port, "GET", origin.url("/slow/0.5?n=%d" % i)))) for i in range(2)]
    ts[0].start()
    time.sleep(0.15)
    ts[1].start()
    waiting = poll(lambda: (lambda f: f if sample(f, "magpie_upstream_queue_waiting") == 1
                            else None)(scrape(m)))
    for t in ts:
        t.join(10)
    assert [r.status for r in got] == [200, 200]
    f1 = scrape(m)
    assert counter(waiting, "magpie_upstream_queued") - counter(f0, "magpie_upstream_queued") == 1
    assert counter(f1, "magpie_upstream_queued") - counter(f0, "magpie_upstream_queued") == 1
    assert sample(f1, "magpie_upstream_queue_waiting") == 0
    # the waiter got the first request's connection back
    assert counter(f1, "magpie_upstream_connections_reused") - \
        counter(f0, "magpie_upstream_connections_reused") == 1


def test_tls_handshakes_are_counted_by_side(magpie_listen_factory, tls_origin_factory, certs,
                                            origin):
    """Origins: one that passes the check, one with an unknown issuer. Clients
    on a TLS listener: one that completes the handshake, one that sends
    plain HTTP to it."""
    from upstream_util import client_context
    admin = free_port()
    m = magpie_listen_factory(
        lambda port: [{"address": "127.0.0.1:%d" % port,
                       "tls": {"cert": str(certs.leaf), "key": str(certs.leaf_key)}}],
        admin={"listen": ["127.0.0.1:%d" % admin]}, upstream={"tls": {"ca_file": str(certs.ca)}})
    m.admin_port = admin
    good, bad = tls_origin_factory(), tls_origin_factory("unknown")
    f0 = settled(m)
    with rawhttp.Conn(m.port) as c:
        c.sock = client_context(certs.ca).wrap_socket(c.sock, server_hostname="127.0.0.1")
        r = c.request("GET", good.url("/bytes/10", host="origin.test"))
        assert r.status == 200, r
        r = c.request("GET", bad.url("/bytes/10", host="origin.test"))
        assert r.status == 502, r
    with rawhttp.Conn(m.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # not a ClientHello
        try:
            c.read_response()
        except rawhttp.Closed:
            pass
    f1 = settled(m)

    def d(family, side):
        return counter(f1, family, side=side) - counter(f0, family, side=side)

    assert d("magpie_tls_handshakes", "origin") == 1
    assert d("magpie_tls_handshake_failures", "origin") == 1
    assert d("magpie_tls_handshakes", "client") == 1
    assert d("magpie_tls_handshake_failures", "client") == 1
    assert closes(f1)["tls_failed"] - closes(f0)["tls_failed"] == 1
    # only the connection that got through TLS is in the connect histogram
    assert hist_count(f1, "magpie_upstream_connect_seconds") - \
        hist_count(f0, "magpie_upstream_connect_seconds") == 1
