"""Proxy authentication (auth.basic) with htpasswd files written by Apache's
htpasswd (-B bcrypt, -5 SHA-512 crypt): requests and CONNECT without valid
credentials get 407 with the Basic challenge, valid ones pass (forward,
reverse route, CONNECT; curl, requests), Proxy-Authorization never reaches
the origin nor any log, an origin's own 407 is relayed as it is, a reload
re-reads the file (and keeps the old one when the new one is refused),
failed attempts are logged at a bounded rate."""

import base64
import json
import re
import signal
import subprocess
import time

import pytest

from conftest import free_port, magpie_bin, poll
from origin import pattern
from rawhttp import Conn, fetch
from upstream_util import *  # noqa: F401,F403 (fixtures: certs, tls_origin_factory, curl)

REALM = "e2e realm"
CHALLENGE = 'Basic realm="%s", charset="UTF-8"' % REALM


def htpasswd(*args):
    p = subprocess.run(["htpasswd", *args], capture_output=True, timeout=20)
    assert p.returncode == 0, "htpasswd %s: %s" % (args, p.stderr.decode())


@pytest.fixture
def users(tmp_path):
    """alice:secret (bcrypt) and bob:pw-bob (SHA-512 crypt), as htpasswd writes them."""
    path = tmp_path / "htpasswd"
    htpasswd("-B", "-b", "-c", str(path), "alice", "secret")
    htpasswd("-5", "-b", str(path), "bob", "pw-bob")
    text = path.read_text()
    assert re.search(r"^alice:\$2y\$", text, re.M) and re.search(r"^bob:\$6\$", text, re.M), text
    return path


@pytest.fixture
def authed(magpie_factory, users, origin):
    return magpie_factory(auth={"basic": {"realm": REALM, "htpasswd": str(users)}},
                          connect={"allowed_ports": [origin.port]})


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def get(m, target, cred=None, **kw):
    headers = [("Proxy-Authorization", cred)] if cred else []
    return fetch(m.port, "GET", target, headers=headers, **kw)


def connect(m, target, cred=None):
    """CONNECT on a new connection: (conn, status, head text)."""
    c = Conn(m.port, addr=m.host, timeout=10)
    extra = "Proxy-Authorization: %s\r\n" % cred if cred else ""
    c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target, target, extra)).encode())
    assert c.wait_for(b"\r\n\r\n"), "no CONNECT response: %r" % c.buf
    i = c.buf.index(b"\r\n\r\n") + 4
    head, c.buf = c.buf[:i], c.buf[i:]
    return c, int(head.split(b" ", 2)[1]), head.decode("latin-1")


# -- refused -------------------------------------------------------------------------

def test_no_credentials_is_407_with_the_challenge(authed, origin):
    r = get(authed, origin.url("/bytes/5"))
    assert r.status == 407
    assert r.header_all("Proxy-Authenticate") == [CHALLENGE]
    assert r.header("Cache-Control") == "no-store"
    assert r.body.startswith(b"magpie: proxy authentication required")
    assert origin.requests == [], "a request without credentials reached the origin"


def test_wrong_credentials_are_407(authed, origin):
    for cred in (basic("alice", "wrong"), basic("alice", "Secret"), basic("nobody", "secret"),
                 basic("bob", "secret"), "Basic !!notbase64!!", "Basic YWxpY2U=",
                 "Bearer abc", "Basic"):
        r = get(authed, origin.url("/bytes/5"), cred)
        assert r.status == 407, "%r: %d" % (cred, r.status)
        assert r.header("Proxy-Authenticate") == CHALLENGE
    assert origin.requests == []


def test_two_authorization_fields_are_refused(authed, origin):
    r = fetch(authed.port, "GET", origin.url("/bytes/5"),
              headers=[("Proxy-Authorization", basic("alice", "secret")),
                       ("Proxy-Authorization", basic("bob", "pw-bob"))])
    assert r.status == 407
    assert origin.requests == []


def test_connection_stays_open_after_407(authed, origin):
    with authed.conn() as c:
        r = c.request("GET", origin.url("/bytes/3"))
        assert r.status == 407 and r.header("Connection") == "keep-alive"
        r = c.request("GET", origin.url("/bytes/3"),
                      headers=[("Proxy-Authorization", basic("alice", "secret"))])
        assert r.status == 200 and r.body == pattern(3)


def test_connect_without_credentials_is_407(authed, origin):
    c, status, head = connect(authed, origin.authority)
    c.close()
    assert status == 407
    assert "Proxy-Authenticate: %s\r\n" % CHALLENGE in head
    assert origin.requests == []


# -- accepted ------------------------------------------------------------------------

def test_right_credentials_pass_forward(authed, origin):
    for user, pw in (("alice", "secret"), ("bob", "pw-bob")):
        r = get(authed, origin.url("/bytes/100"), basic(user, pw))
        assert r.status == 200, "%s: %d %r" % (user, r.status, r.body[:100])
        assert r.body == pattern(100)
    # the same header again (answered from the table of verified ones)
    assert get(authed, origin.url("/bytes/7"), basic("alice", "secret")).status == 200


def test_right_credentials_pass_reverse_route(authed, origin):
    r = fetch(authed.port, "GET", "/bytes/9", host="api.local",
              headers=[("Proxy-Authorization", basic("bob", "pw-bob"))])
    assert r.status == 200 and r.body == pattern(9)
    r = fetch(authed.port, "GET", "/bytes/9", host="api.local")
    assert r.status == 407


def test_right_credentials_open_a_tunnel(authed, origin):
    c, status, _ = connect(authed, origin.authority, basic("alice", "secret"))
    try:
        assert status == 200
        c.send(b"GET /bytes/11 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == pattern(11)
    finally:
        c.close()
    # the tunnel's bytes reached the origin untouched: its request has no proxy field
    assert all(q.header("Proxy-Authorization") is None for q in origin.requests)


def test_curl_with_proxy_credentials(authed, origin, tmp_path):
    out = tmp_path / "body"
    p = curl("-x", "http://alice:secret@127.0.0.1:%d" % authed.port, "-o", str(out),
             "-w", "%{http_code}", origin.url("/bytes/300"))
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == b"200" and out.read_bytes() == pattern(300)
    p = curl("-x", "http://127.0.0.1:%d" % authed.port, "-o", "/dev/null", "-w", "%{http_code}",
             origin.url("/bytes/300"))
    assert p.stdout == b"407"
    p = curl("-x", "http://alice:nope@127.0.0.1:%d" % authed.port, "-o", "/dev/null",
             "-w", "%{http_code}", origin.url("/bytes/300"))
    assert p.stdout == b"407"


def test_curl_https_through_an_authenticated_tunnel(magpie_factory, users, tls_origin_factory,
                                                    certs, tmp_path):
    o = tls_origin_factory()
    m = magpie_factory(auth={"basic": {"realm": REALM, "htpasswd": str(users)}},
                       connect={"allowed_ports": [o.port]})
    out = tmp_path / "body"
    p = curl("-x", "http://bob:pw-bob@127.0.0.1:%d" % m.port, "--cacert", str(certs.ca),
             "-o", str(out), o.url("/bytes/2000"))
    assert p.returncode == 0, "curl exit %d: %s" % (p.returncode, p.stderr.decode())
    assert out.read_bytes() == pattern(2000)
    p = curl("-x", "http://127.0.0.1:%d" % m.port, "--cacert", str(certs.ca), "-o", "/dev/null",
             o.url("/bytes/2000"))
    assert p.returncode != 0 and "407" in p.stderr.decode()


def test_python_requests_with_proxy_credentials(authed, origin):
    import requests

    with requests.Session() as s:
        s.trust_env = False
        proxy = "http://bob:pw-bob@127.0.0.1:%d" % authed.port
        r = s.get(origin.url("/bytes/50"), proxies={"http": proxy}, timeout=10)
        assert r.status_code == 200 and r.content == pattern(50)
        r = s.get(origin.url("/bytes/50"), proxies={"http": "http://127.0.0.1:%d" % authed.port},
                  timeout=10)
        assert r.status_code == 407
        assert r.headers["Proxy-Authenticate"] == CHALLENGE


# -- never forwarded, never logged ---------------------------------------------------

def test_proxy_authorization_is_not_forwarded(authed, origin):
    cred = basic("alice", "secret")
    r = fetch(authed.port, "GET", origin.url("/echo"),
              headers=[("Proxy-Authorization", cred), ("Authorization", "Bearer for-the-origin")])
    assert r.status == 200
    names = {n.lower(): v for n, v in json.loads(r.body)["headers"]}
    assert "proxy-authorization" not in names, names
    assert names.get("authorization") == "Bearer for-the-origin", names  # end to end: it goes on
    r = fetch(authed.port, "GET", "/echo", host="api.local",
              headers=[("Proxy-Authorization", basic("bob", "pw-bob"))])
    assert r.status == 200
    assert "proxy-authorization" not in {n.lower() for n, _ in json.loads(r.body)["headers"]}


def test_credentials_never_reach_the_logs(authed, origin):
    good, bad = basic("alice", "secret"), basic("alice", "hunter2-wrong")
    assert get(authed, origin.url("/bytes/1"), good).status == 200
    assert get(authed, origin.url("/bytes/1"), bad).status == 407
    authed.wait_error_log(r"proxy authentication failed")
    authed.wait_access_line(lambda l: " 407 " in l)
    logs = authed.error_log_text() + "\n".join(authed.access_log_lines()) + authed.stderr_text()
    for secret in (good.split()[1], bad.split()[1], "secret", "hunter2-wrong",
                   "Proxy-Authorization"):
        assert secret not in logs, "%r found in the logs (log_level debug)" % secret


def test_origin_407_is_relayed_as_it_is(authed, origin):
    r = get(authed, origin.url("/status/407"), basic("alice", "secret"))
    assert r.status == 407
    # the origin's answer, not magpie's challenge (Proxy-Authenticate is the
    # origin's hop's field: it does not go on either)
    assert r.header("Proxy-Authenticate") is None
    assert not r.body.startswith(b"magpie:")
    assert len(origin.requests) == 1


# -- reload --------------------------------------------------------------------------

def test_reload_rereads_the_file(authed, users, origin):
    url = origin.url("/bytes/2")
    carol = basic("carol", "pw-carol")
    assert get(authed, url, carol).status == 407
    htpasswd("-B", "-b", str(users), "carol", "pw-carol")
    authed.signal(signal.SIGHUP)
    assert poll(lambda: get(authed, url, carol).status == 200), "a user added is not let in"
    htpasswd("-D", str(users), "bob")
    authed.signal(signal.SIGHUP)
    bob = basic("bob", "pw-bob")
    assert poll(lambda: get(authed, url, bob).status == 407), "a user removed still gets in"
    assert get(authed, url, basic("alice", "secret")).status == 200


def test_reload_with_a_refused_file_keeps_the_old_one(authed, users, origin):
    text = users.read_text()
    users.write_text(text + "dave:$apr1$vwoMGMeQ$MxlvKK7z4ZBC4AIT.NtxS.\n")
    authed.signal(signal.SIGHUP)
    authed.wait_error_log(r"htpasswd:3: user \"dave\": the password is an Apache MD5 \(\$apr1\$\) "
                          r"hash, which magpie does not accept; use htpasswd -B")
    assert get(authed, origin.url("/bytes/2"), basic("alice", "secret")).status == 200


def test_check_refuses_md5_and_plain_files(magpie_factory, tmp_path, users):
    m = magpie_factory()
    bad = tmp_path / "md5"
    htpasswd("-m", "-b", "-c", str(bad), "dave", "pw")
    m.write_config({"auth": {"basic": {"htpasswd": str(bad)}}})
    p = subprocess.run([str(magpie_bin()), "-t", "-c", str(m.config_path)],
                       capture_output=True, timeout=20)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert re.search(r"magpie\.yaml:\d+:\d+: auth\.basic\.htpasswd: .*md5:1: user \"dave\": the "
                     r"password is an Apache MD5 \(\$apr1\$\) hash", err), err
    m.write_config({"auth": {"basic": {"htpasswd": str(users)}}})
    p = subprocess.run([str(magpie_bin()), "-t", "-c", str(m.config_path)],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr.decode()


# -- failures logged at a bounded rate -----------------------------------------------

def failure_lines(m):
    return re.findall(r"^.*\[warn\].*proxy authentication failed: .*$", m.error_log_text(), re.M)


def test_failed_attempts_are_logged_at_a_bounded_rate(authed, origin):
    url = origin.url("/bytes/1")
    t0 = time.monotonic()
    # from two addresses, so that neither fails often enough to be throttled
    for i in range(20):
        src = "127.0.0.%d" % (2 + i % 2)
        assert get(authed, url, basic("alice", "wrong%d" % i), source=src).status == 407
    elapsed = time.monotonic() - t0
    authed.wait_error_log(r"proxy authentication failed")
    lines = failure_lines(authed)
    # at most one line a second (the first one goes out at once)
    assert 1 <= len(lines) <= 1 + int(elapsed), lines
    assert 'wrong password for user "alice"' in lines[0]
    time.sleep(1.1)
    assert get(authed, url, basic("zed", "x"), source="127.0.0.4").status == 407
    authed.wait_error_log(r"unknown user or malformed credentials \(\d+ more failed "
                          r"attempts? not logged\)")
    # every failure is either a line or counted in the next one
    lines = failure_lines(authed)
    counted = sum(int(n) for n in re.findall(r"\((\d+) more failed attempts? not logged\)",
                                             "\n".join(lines)))
    assert len(lines) + counted == 21, lines
    # a 407 without credentials is no failed attempt, and no info line either
    before = len(failure_lines(authed))
    assert get(authed, url).status == 407
    time.sleep(0.2)
    assert len(failure_lines(authed)) == before
    assert not re.search(r"\[info\] #\d+ \S+: 407 ", authed.error_log_text())


def test_an_address_that_keeps_failing_is_answered_429_unchecked(authed, origin):
    """Guessing passwords from one address: after 10 failed checks in a
    minute it gets 429 with Retry-After and no check (the crypt budget
    stays for everyone else); a user already verified from there, and
    other addresses, still pass."""
    url = origin.url("/bytes/2")
    me, other = "127.0.0.5", "127.0.0.6"
    assert get(authed, url, basic("bob", "pw-bob"), source=me).status == 200
    for i in range(10):
        assert get(authed, url, basic("alice", "guess%d" % i), source=me).status == 407
    r = get(authed, url, basic("alice", "secret"), source=me)  # right, but not checked now
    assert r.status == 429, r.status
    assert 1 <= int(r.header("Retry-After")) <= 60, r.header("Retry-After")
    assert r.header("Proxy-Authenticate") is None  # no prompt to try again at once
    assert r.body.startswith(b"magpie: too many failed proxy logins from this address")
    assert get(authed, url, basic("bob", "pw-bob"), source=me).status == 200  # verified before
    assert get(authed, url, basic("alice", "secret"), source=other).status == 200
    # the connection stays usable, as after a 407
    with Conn(authed.port, source=me) as c:
        for _ in range(2):
            r = c.request("GET", url, headers=[("Proxy-Authorization", basic("alice", "x"))])
            assert r.status == 429
    time.sleep(1.1)  # past the failure lines' rate limit
    assert get(authed, url, basic("alice", "y"), source=me).status == 429
    authed.wait_error_log(r"127\.0\.0\.5:\d+: proxy authentication refused: 10 failed attempts "
                          r"from this address within 60 s")


# -- the access log's user, the metrics, the admin listener ---------------------------

def test_user_in_combined_and_json_access_lines(magpie_factory, users, origin):
    auth = {"basic": {"realm": REALM, "htpasswd": str(users)}}
    m = magpie_factory(auth=auth, access_log_format="combined")
    assert get(m, origin.url("/bytes/1"), basic("alice", "secret")).status == 200
    assert get(m, origin.url("/bytes/1")).status == 407
    line = m.wait_access_line(lambda l: " 200 " in l)
    assert line.split()[2] == "alice", line  # host ident user
    line = m.wait_access_line(lambda l: " 407 " in l)
    assert line.split()[2] == "-", line
    j = magpie_factory(auth=auth, access_log_format="json")
    assert get(j, origin.url("/bytes/1"), basic("bob", "pw-bob")).status == 200
    entry = json.loads(j.wait_access_line(lambda l: '"status":200' in l))
    assert entry["user"] == "bob", entry


def test_failures_are_counted_in_metrics_and_admin_asks_no_credentials(magpie_factory, users,
                                                                       origin):
    port = free_port()
    m = magpie_factory(auth={"basic": {"htpasswd": str(users)}},
                       admin={"listen": ["127.0.0.1:%d" % port]})
    for cred in (basic("alice", "bad"), basic("nobody", "x"), None, basic("alice", "secret")):
        get(m, origin.url("/bytes/1"), cred)
    r = fetch(port, "GET", "/metrics", host="127.0.0.1")
    assert r.status == 200, r.status  # no Proxy-Authorization asked of a scrape
    assert re.search(rb"^magpie_auth_failures_total 2$", r.body, re.M), r.body[-800:]
    assert fetch(port, "GET", "/healthz", host="127.0.0.1").status == 200
