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


def admin_magpie(magpie_factory, **more):
    port = free_port()
    m = magpie_factory(admin=dict({"listen": ["127.0.0.1:%d" % port]}, **more))
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
