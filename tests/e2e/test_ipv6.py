"""IPv6: a [::1] listener, a dual-stack [::] one, an origin on [::1], the
client address in the log."""

import json

import rawhttp
from origin import pattern
from rawhttp import fetch


def test_ipv6_listener_serves_requests(magpie_factory, origin):
    magpie = magpie_factory(host="::1")
    r = fetch(magpie.port, "GET", origin.url("/bytes/100"), addr="::1")
    assert r.status == 200 and r.body == pattern(100)


def test_ipv6_client_is_logged_in_brackets(magpie_factory, origin):
    magpie = magpie_factory(host="::1")
    with magpie.conn() as c:
        port = c.local_port
        assert c.request("GET", origin.url("/bytes/1?v6")).status == 200
    line = magpie.wait_access_line(lambda l: "?v6" in l)
    assert line.split()[1] == "[::1]:%d" % port


def test_ipv6_literal_origin(magpie, origin6):
    r = fetch(magpie.port, "GET", origin6.url("/echo"))
    assert r.status == 200
    doc = json.loads(r.body)
    assert [v for n, v in doc["headers"] if n.lower() == "host"] == [origin6.authority]
    line = magpie.wait_access_line(lambda l: "/echo" in l)
    assert line.split()[8] == "[::1]:%d" % origin6.port


def test_ipv6_client_reverse_x_forwarded_for(magpie_factory, origin):
    magpie = magpie_factory(host="::1")
    r = fetch(magpie.port, "GET", "/echo", addr="::1", host="api.local")
    assert r.status == 200
    xff = [v for n, v in json.loads(r.body)["headers"] if n.lower() == "x-forwarded-for"]
    assert xff == ["::1"]


def test_an_any_address_ipv6_listener_takes_ipv4_clients_too(magpie_factory, origin):
    """[::] is dual-stack, as Linux offers: an IPv4 client is served, matched
    against the IPv4 ACL entries, and logged and forwarded as IPv4."""
    m = magpie_factory(host="::", acl={"allow": ["127.0.0.0/8"]},
                       routes=[{"host": "api.local", "origin": origin.url("")}])
    with rawhttp.Conn(m.port, addr="127.0.0.1") as c:
        port = c.local_port
        assert c.request("GET", origin.url("/bytes/1?dual")).status == 200
        r = c.request("GET", "/echo", host="api.local")
    line = m.wait_access_line(lambda l: "?dual" in l)
    assert line.split()[1] == "127.0.0.1:%d" % port, line
    doc = json.loads(r.body)
    assert [v for n, v in doc["headers"] if n.lower() == "x-forwarded-for"] == ["127.0.0.1"]
    # ::1 is outside that ACL: IPv6 clients are still IPv6
    r = fetch(m.port, "GET", origin.url("/bytes/1"), addr="::1")
    assert r.status == 403

