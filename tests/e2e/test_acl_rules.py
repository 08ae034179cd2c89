"""acl.rules: requests allowed or denied by client network, destination host
suffix and port, and method, for forward requests, reverse routes and
CONNECT; the first rule that applies decides, a deny is 403 and never
reaches the origin; a reload applies new rules."""

import signal

from conftest import poll
from rawhttp import Conn, fetch

ANY = ["0.0.0.0/0", "::/0"]


def status(m, method, target, **kw):
    return fetch(m.port, method, target, **kw).status


def test_deny_by_method_and_allow_before_it(magpie_factory, origin):
    m = magpie_factory(acl={"rules": [
        {"allow": ANY, "methods": ["GET"], "dest_suffix": ["origin.test"]},
        {"deny": ANY, "methods": ["GET", "POST"]},
    ]})
    # origin.test resolves to the origin (the test DNS server); 127.0.0.1 is another name
    assert status(m, "GET", "http://origin.test:%d/bytes/1" % origin.port) == 200
    r = fetch(m.port, "GET", origin.url("/bytes/1"))
    assert r.status == 403 and b"denied by acl.rules[1]" in r.body
    assert status(m, "POST", "http://origin.test:%d/bytes/1" % origin.port, body=b"x") == 403
    assert status(m, "HEAD", origin.url("/bytes/1")) == 200  # no rule applies
    assert [q.method for q in origin.requests] == ["GET", "HEAD"]


def test_deny_by_suffix_port_and_client(magpie_factory, origin):
    m = magpie_factory(acl={"rules": [
        {"deny": ["127.0.0.0/8"], "dest_suffix": [".test"], "ports": [origin.port]},
        {"deny": ["10.0.0.0/8"]},  # not this client
    ]})
    assert status(m, "GET", "http://origin.test:%d/bytes/1" % origin.port) == 403
    assert status(m, "GET", origin.url("/bytes/1")) == 200
    # a reverse route is judged by the host the client asked for (api.local:80)
    assert status(m, "GET", "/bytes/1", host="api.local") == 200
    assert len(origin.requests) == 2


def test_reverse_route_by_host(magpie_factory, origin):
    m = magpie_factory(acl={"rules": [{"deny": ANY, "dest_suffix": ["api.local"], "ports": [80]}]})
    assert status(m, "GET", "/bytes/1", host="api.local") == 403
    # the route ignores the Host's port; the rule's ports do not
    assert status(m, "GET", "/bytes/1", host="api.local:8080") == 200
    assert len(origin.requests) == 1


def test_connect_by_port_and_suffix(magpie_factory, origin):
    m = magpie_factory(connect={"allowed_ports": [origin.port]},
                       acl={"rules": [{"deny": ANY, "methods": ["CONNECT"],
                                       "dest_suffix": [".test"]}]})
    for target, want in (("origin.test:%d" % origin.port, 403),
                         ("127.0.0.1:%d" % origin.port, 200)):
        with Conn(m.port, timeout=10) as c:
            c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
            assert c.wait_for(b"\r\n\r\n"), c.buf
            assert c.buf.split(b" ", 2)[1] == str(want).encode(), (target, c.buf)


def test_reload_applies_new_rules(magpie_factory, origin):
    m = magpie_factory()
    url = origin.url("/bytes/1")
    assert status(m, "GET", url) == 200
    m.write_config({"acl": {"rules": [{"deny": ANY, "ports": [origin.port]}]}})
    m.signal(signal.SIGHUP)
    assert poll(lambda: status(m, "GET", url) == 403), "a rule added by reload is not applied"
