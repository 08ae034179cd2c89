"""Forward-mode destinations (SSRF): after resolution, and for every address
a name resolves to, magpie refuses link-local and cloud metadata addresses,
the unspecified address and its own listeners with a 403 naming the reason,
for absolute URIs and CONNECT alike; acl.deny_destinations refuses more,
acl.allow_destinations limits to its networks. Reverse routes, whose origins
the operator chose, are not checked. Unsafe methods from clients outside
admin.purge_allow still invalidate (RFC 9111 §4.4)."""

import time

import pytest

from origin import Origin
from rawhttp import fetch, is_error_body
from upstream_util import open_tunnel  # noqa: F401

CC60 = "Cache-Control=public%2C%20max-age%3D60"


def refused(r, why):
    assert r.status == 403, r
    assert is_error_body(r), r.body
    assert why.encode() in r.body, r.body
    assert b"(acl)" in r.body, r.body


# -- built-in ranges, literal and resolved ----------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local / cloud metadata"),
    ("http://169.254.10.1:8080/", "169.254.10.1 is link-local"),
    ("http://[fe80::1]/", "fe80::1 is link-local"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254 is link-local / cloud metadata"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is cloud metadata"),
    ("http://100.100.100.200/", "100.100.100.200 is cloud metadata"),
    ("http://192.0.0.192/", "192.0.0.192 is cloud metadata"),
    ("http://0.0.0.0:80/", "0.0.0.0 is unspecified"),
    ("http://[::]:80/", ":: is unspecified"),
])
def test_literal_forbidden_destination_is_403(magpie, url, shown):
    start = time.monotonic()
    r = fetch(magpie.port, "GET", url)
    refused(r, "destination " + shown)
    assert time.monotonic() - start < 2, "refused only after a connect attempt"
    line = magpie.wait_access_line(lambda l: " 403 " in l)
    assert line, magpie.access_log_lines()
    assert magpie.wait_error_log(r"403 destination .* \(acl\)"), magpie.error_log_text()


def test_name_resolving_to_metadata_is_403(magpie, dns, origin):
    dns.add("meta.test", "169.254.169.254")
    dns.add("fine.test", "127.0.0.1")
    r = fetch(magpie.port, "GET", "http://meta.test:%d/" % origin.port)
    refused(r, "destination 169.254.169.254 is link-local / cloud metadata")
    assert dns.queries_for("meta.test"), "refused before resolving"
    r = fetch(magpie.port, "GET", "http://fine.test:%d/bytes/3" % origin.port)
    assert r.status == 200 and len(r.body) == 3


@pytest.mark.parametrize("order", [["169.254.169.254", "127.0.0.1"],
                                   ["127.0.0.1", "169.254.169.254"]])
def test_name_with_one_forbidden_address_is_refused_whole(magpie, dns, origin, order):
    """A name with any refused address is refused before any connect, in
    either order: no partial trust in an answer that points somewhere
    forbidden (and no fallback an attacker can steer)."""
    dns.add("mixed.test", *order)
    r = fetch(magpie.port, "GET", "http://mixed.test:%d/bytes/3" % origin.port)
    refused(r, "destination 169.254.169.254 is link-local / cloud metadata")
    assert origin.connections == 0, "magpie connected to the allowed address anyway"


def test_rebinding_name_is_checked_on_each_resolution(magpie_factory, dns, origin):
    """A short TTL that flips the answer to a metadata address is caught on
    the next connect, not trusted from the first answer."""
    m = magpie_factory(dns={"servers": [dns.address], "max_ttl": "1ms"},
                       upstream={"pool": {"max_idle_per_origin": 0}})
    dns.add("rebind.test", "127.0.0.1")
    assert fetch(m.port, "GET", "http://rebind.test:%d/bytes/2" % origin.port).status == 200
    dns.add("rebind.test", "169.254.169.254")
    time.sleep(0.05)
    r = fetch(m.port, "GET", "http://rebind.test:%d/bytes/2" % origin.port)
    refused(r, "destination 169.254.169.254 is link-local / cloud metadata")


def test_connect_to_metadata_is_403(magpie):
    c, status, head = open_tunnel(magpie, "169.254.169.254:443")
    with c:
        assert status == 403, head
        assert b"169.254.169.254 is link-local / cloud metadata (acl)" in c.read_all(3)


def test_connect_to_name_resolving_to_link_local_is_403(magpie, dns):
    dns.add("tun.test", "fe80::2")
    c, status, head = open_tunnel(magpie, "tun.test:443")
    with c:
        assert status == 403, head


# -- magpie's own listeners ------------------------------------------------------------------

def test_request_to_own_listener_is_403_not_a_loop(magpie):
    r = fetch(magpie.port, "GET", "http://127.0.0.1:%d/" % magpie.port)
    refused(r, "destination 127.0.0.1 is magpie's own listener")
    assert "forwarding loop" not in magpie.error_log_text()


def test_request_to_own_listener_by_mapped_address_is_403(magpie):
    r = fetch(magpie.port, "GET", "http://[::ffff:127.0.0.1]:%d/" % magpie.port)
    refused(r, "magpie's own listener")


def test_loopback_stays_allowed(magpie, origin):
    r = fetch(magpie.port, "GET", origin.url("/bytes/4"))
    assert r.status == 200


# -- acl.deny_destinations / acl.allow_destinations -------------------------------------------

@pytest.fixture
def origin_at():
    started = []

    def make(host):
        o = Origin(host)
        started.append(o)
        return o

    yield make
    for o in started:
        o.stop()


def test_deny_destinations_refuses_a_network(magpie_factory, origin_at, origin):
    o2 = origin_at("127.0.0.2")
    m = magpie_factory(acl={"allow": ["127.0.0.0/8"], "deny_destinations": ["127.0.0.2/32"]})
    r = fetch(m.port, "GET", o2.url("/bytes/3"))
    refused(r, "destination 127.0.0.2 is in acl.deny_destinations")
    assert o2.connections == 0
    assert fetch(m.port, "GET", origin.url("/bytes/3")).status == 200


def test_allow_destinations_limits_to_its_networks(magpie_factory, origin_at, origin):
    o3 = origin_at("127.0.0.3")
    m = magpie_factory(acl={"allow": ["127.0.0.0/8"], "allow_destinations": ["127.0.0.1/32"]})
    r = fetch(m.port, "GET", o3.url("/bytes/3"))
    refused(r, "destination 127.0.0.3 is not in acl.allow_destinations")
    assert o3.connections == 0
    assert fetch(m.port, "GET", origin.url("/bytes/3")).status == 200
    c, status, head = open_tunnel(m, "127.0.0.3:443")
    with c:
        assert status == 403, head


def test_routes_are_not_checked_and_their_pool_is_no_way_around(magpie_factory, origin_at):
    """A route to a denied address works (the operator chose it); a forward
    request to the same origin is refused even with that route's idle
    connection in the pool under the same key."""
    o2 = origin_at("127.0.0.2")
    m = magpie_factory(acl={"allow": ["127.0.0.0/8"], "deny_destinations": ["127.0.0.2/32"]},
                       routes=[{"host": "inner.local", "origin": o2.url("")}])
    r = fetch(m.port, "GET", "/bytes/5", host="inner.local")
    assert r.status == 200 and len(r.body) == 5
    r = fetch(m.port, "GET", o2.url("/bytes/6"))
    refused(r, "destination 127.0.0.2 is in acl.deny_destinations")
    assert o2.request_count() == 1


# -- unsafe methods invalidate whoever sends them -----------------------------------------------

def test_delete_from_client_outside_purge_allow_invalidates(magpie_factory, origin):
    """PURGE is an admin verb (admin.purge_allow); DELETE is a request to the
    origin, and its success invalidates the stored response for everyone
    (RFC 9111 §4.4), whoever sent it."""
    m = magpie_factory(admin={"purge_allow": ["10.0.0.0/8"]})
    url = origin.url("/headers?" + CC60)
    r1 = fetch(m.port, "GET", url)
    assert fetch(m.port, "GET", url).header("x-cache") == "HIT"
    assert fetch(m.port, "PURGE", url).status == 403
    d = fetch(m.port, "DELETE", url)
    assert d.status == 200
    r3 = fetch(m.port, "GET", url)
    assert r3.header("x-cache") == "MISS"
    assert r3.header("x-response-number") != r1.header("x-response-number")
