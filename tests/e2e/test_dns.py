"""Name resolution through the DNS servers in the config (the tests' own)."""

import json
import socket
import time

from rawhttp import fetch, is_error_body


def test_name_answered_by_test_dns_is_reached(magpie, origin, dns):
    r = fetch(magpie.port, "GET", "http://origin.test:%d/echo" % origin.port)
    assert r.status == 200
    doc = json.loads(r.body)
    hosts = [v for n, v in doc["headers"] if n.lower() == "host"]
    assert hosts == ["origin.test:%d" % origin.port]
    assert dns.queries_for("origin.test", "A"), dns.queries


def test_name_lookup_is_case_insensitive(magpie, origin, dns):
    r = fetch(magpie.port, "GET", "http://Origin.TEST:%d/bytes/3" % origin.port)
    assert r.status == 200


def test_answer_is_cached_within_ttl(magpie, origin, dns):
    for i in range(3):
        r = fetch(magpie.port, "GET", "http://origin.test:%d/bytes/%d" % (origin.port, i + 1))
        assert r.status == 200
    assert len(dns.queries_for("origin.test", "A")) == 1, dns.queries


def test_nxdomain_is_502(magpie, origin, dns):
    r = fetch(magpie.port, "GET", "http://no-such-name.test:%d/" % origin.port)
    assert r.status == 502
    assert is_error_body(r), r.body
    assert origin.request_count() == 0


def test_unresponsive_dns_server_gives_an_error_within_dns_timeout(magpie_factory, origin):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        magpie = magpie_factory(dns={"servers": ["127.0.0.1:%d" % silent.getsockname()[1]],
                                     "timeout": "1s"})
        start = time.monotonic()
        r = fetch(magpie.port, "GET", "http://origin.test:%d/" % origin.port)
        took = time.monotonic() - start
    assert r.status in (502, 504)
    assert is_error_body(r), r.body
    assert took < 4, "answered after %.1f s with dns.timeout 1s" % took
