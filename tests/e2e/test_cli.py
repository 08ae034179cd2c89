"""Command line: -V, -h and their long forms, -t with file:line:col errors
and with the TLS files a start loads, -T printing a configuration that
reads back, usage errors (exit 2), start-up failure (exit 3)."""

import pathlib
import re
import socket
import subprocess

import pytest

from conftest import clean_env, free_port, magpie_bin
from upstream_util import certs  # noqa: F401 (fixture)

REPO = pathlib.Path(__file__).resolve().parents[2]

HEADER = ('listen: ["127.0.0.1:{port}"]\n'   # line 1
          "acl: {{ allow: [127.0.0.0/8] }}\n"  # line 2
          'error_log: "-"\n'                   # line 3
          "access_log: off\n")                 # line 4; tests add from line 5


def run(*args, timeout=10):
    p = subprocess.run([str(magpie_bin())] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout, env=clean_env())
    assert p.returncode >= 0, "magpie died from signal %d; stderr:\n%s" % (-p.returncode, p.stderr)
    return p


def config(tmp_path, body, port=None):
    path = tmp_path / "check.yaml"
    path.write_text(HEADER.format(port=port or free_port()) + body)
    return path


LIBRARIES = ["OpenSSL", "libev", "zlib", "zstd", "brotli", "PCRE2", "libyaml", "c-ares", "libpsl",
             "http-parser"]


def test_version():
    p = run("-V")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "magpie 0.1.0"
    # then one "NAME VERSION" line per library, each library once
    names = [line.split(" ", 1)[0] for line in lines[1:]]
    assert names == LIBRARIES, p.stdout
    for line in lines[1:]:
        assert re.match(r"^\S+ \d+\.\d+(\.\d+)?\b", line), line


@pytest.mark.parametrize("short,long", [("-V", "--version"), ("-h", "--help")])
def test_long_options(short, long):
    a, b = run(short), run(long)
    assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout and a.stdout


def test_help_lists_every_option():
    out = run("--help").stdout
    for opt in ["-c, --config FILE", "-t, --test", "-T, --print-config", "-V, --version",
                "-h, --help"]:
        assert opt in out, "%r missing from --help:\n%s" % (opt, out)


def test_help():
    p = run("-h")
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert re.search(r"(?i)usage", out)
    assert "-c" in out and "-t" in out


@pytest.mark.parametrize("args", [["-Z"], ["--no-such-option"], ["-c"], ["-t", "-c"],
                                  ["-c", "a.yaml", "extra-argument"]],
                         ids=["unknown-short", "unknown-long", "c-without-file", "t-c-without-file",
                              "stray-argument"])
def test_usage_error_exits_2(args):
    p = run(*args)
    assert p.returncode == 2, "exit %d; stderr:\n%s" % (p.returncode, p.stderr)
    assert p.stderr.strip(), "no message for a usage error"


def test_check_valid_config(tmp_path):
    path = config(tmp_path, "log_level: info\nproxy_name: checker\n"
                            "limits: { max_connections: 10, max_header_bytes: 16KiB,"
                            " client_header_timeout: 250ms, client_idle_timeout: 1m }\n"
                            "upstream: { connect_timeout: 1s, read_timeout: 1h }\n"
                            'dns: { servers: ["127.0.0.1:53"], max_ttl: 300s, timeout: 5s }\n'
                            'routes:\n  - { host: api.local, origin: "http://127.0.0.1:8080" }\n')
    p = run("-t", "-c", str(path))
    assert p.returncode == 0, p.stderr


def test_check_does_not_bind(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        path = config(tmp_path, "", port=s.getsockname()[1])
        p = run("-t", "-c", str(path))
    assert p.returncode == 0, p.stderr


def check_error(tmp_path, body, line, col):
    path = config(tmp_path, body)
    p = run("-t", "-c", str(path))
    assert p.returncode == 1, "exit %d; stderr:\n%s" % (p.returncode, p.stderr)
    where = "%s:%d:%d: " % (path, line, col)
    assert where in p.stderr, "expected %r in stderr:\n%s" % (where, p.stderr)
    return p.stderr


def test_check_unknown_top_level_key(tmp_path):
    check_error(tmp_path, "log_level: info\nlisten_on: 1\n", 6, 1)


def test_check_unknown_nested_key(tmp_path):
    check_error(tmp_path, "limits:\n  max_connections: 10\n  max_conections: 5\n", 7, 3)


def test_check_bad_integer_value(tmp_path):
    # "  max_connections: lots": the value starts at column 20
    check_error(tmp_path, "limits:\n  max_connections: lots\n", 6, 20)


def test_check_bad_duration(tmp_path):
    # "upstream: { read_timeout: 5 parsecs }": the value starts at column 27
    check_error(tmp_path, "upstream: { read_timeout: 5 parsecs }\n", 5, 27)


def test_check_bad_size(tmp_path):
    # "limits: { max_header_bytes: 64 KB-ish }": the value starts at column 29
    check_error(tmp_path, "limits: { max_header_bytes: 64 KB-ish }\n", 5, 29)


def test_check_bad_log_level(tmp_path):
    check_error(tmp_path, "log_level: loud\n", 5, 12)


def test_check_bad_cidr(tmp_path):
    # the second item of acl.allow: line 8, column 7
    body = "acl:\n  allow:\n    - 10.0.0.0/8\n    - 10.0.0.0/99\n"
    path = config(tmp_path, body)
    # HEADER already has an acl; use a header without it
    path.write_text(path.read_text().replace("acl: { allow: [127.0.0.0/8] }\n", "# no acl\n"))
    p = run("-t", "-c", str(path))
    assert p.returncode == 1, p.stderr
    assert "%s:8:7: " % path in p.stderr, p.stderr


def test_check_bad_listen_address(tmp_path):
    path = tmp_path / "check.yaml"
    path.write_text('error_log: "-"\nlisten: ["127.0.0.1:99999"]\n')
    p = run("-t", "-c", str(path))
    assert p.returncode == 1, p.stderr
    assert "%s:2:10: " % path in p.stderr, p.stderr


def test_check_wrong_type(tmp_path):
    # routes must be a list; a mapping is an error where it starts
    check_error(tmp_path, "routes: { host: api.local }\n", 5, 9)


def test_check_reports_every_error(tmp_path):
    err = check_error(tmp_path, "log_level: loud\nbogus: 1\nlimits:\n  max_connections: lots\n",
                      5, 12)
    path = tmp_path / "check.yaml"
    assert "%s:6:1: " % path in err
    assert "%s:8:20: " % path in err


def test_check_yaml_syntax_error(tmp_path):
    path = config(tmp_path, "limits: { max_connections: 10\nlog_level: [\n")
    p = run("-t", "-c", str(path))
    assert p.returncode == 1, p.stderr
    assert re.search(r"%s:\d+:\d+: " % re.escape(str(path)), p.stderr), p.stderr


def test_check_missing_file(tmp_path):
    p = run("-t", "-c", str(tmp_path / "absent.yaml"))
    assert p.returncode == 1, p.stderr
    assert "absent.yaml" in p.stderr


def test_port_in_use_exits_3(tmp_path):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        path = config(tmp_path, "", port=s.getsockname()[1])
        p = run("-c", str(path))
    assert p.returncode == 3, "exit %d; stderr:\n%s" % (p.returncode, p.stderr)
    assert p.stderr.strip(), "no message for a start-up failure"


def test_invalid_config_at_start_exits_1(tmp_path):
    path = config(tmp_path, "bogus: 1\n")
    p = run("-c", str(path))
    assert p.returncode == 1, p.stderr
    assert "%s:5:1: " % path in p.stderr


# -- -t loads what a start loads -------------------------------------------------------

def tls_listener(port, cert, key):
    return ('listen:\n  - { address: "127.0.0.1:%d", tls: { cert: "%s", key: "%s" } }\n'
            'error_log: "-"\naccess_log: off\n' % (port, cert, key))


def test_check_loads_listener_cert_and_key(tmp_path, certs):
    path = tmp_path / "tls.yaml"
    path.write_text(tls_listener(free_port(), certs.leaf, certs.leaf_key))
    p = run("-t", "-c", str(path))
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("broken", ["missing-key", "missing-cert", "key-of-another-cert",
                                    "garbage-cert"])
def test_check_fails_on_listener_tls_files(tmp_path, certs, broken):
    cert, key = certs.leaf, certs.leaf_key
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    if broken == "missing-key":
        key = bad = tmp_path / "no-such.key"
    elif broken == "missing-cert":
        cert = bad = tmp_path / "no-such.crt"
    elif broken == "key-of-another-cert":
        key = bad = certs.wronghost_key
    else:
        cert = bad = junk
    port = free_port()
    path = tmp_path / "tls.yaml"
    path.write_text(tls_listener(port, cert, key))
    p = run("-t", "-c", str(path))
    assert p.returncode == 1, "exit %d; stderr:\n%s" % (p.returncode, p.stderr)
    assert "listen 127.0.0.1:%d: " % port in p.stderr, p.stderr
    if broken != "key-of-another-cert":
        assert str(bad) in p.stderr, p.stderr
    assert "is valid" not in p.stdout
    # and a start with the same file fails too, as -t said it would
    s = run("-c", str(path))
    assert s.returncode == 3, s.stderr


@pytest.mark.parametrize("verify", ["true", "false"])
@pytest.mark.parametrize("kind", ["missing", "garbage"])
def test_check_fails_on_bad_ca_file(tmp_path, verify, kind):
    ca = tmp_path / ("absent.pem" if kind == "missing" else "junk.pem")
    if kind == "garbage":
        ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    path = config(tmp_path, 'upstream: { tls: { verify: %s, ca_file: "%s" } }\n' % (verify, ca))
    p = run("-t", "-c", str(path))
    assert p.returncode == 1, "exit %d; stderr:\n%s" % (p.returncode, p.stderr)
    assert "upstream.tls.ca_file: " in p.stderr and str(ca) in p.stderr, p.stderr


def test_check_accepts_a_good_ca_file(tmp_path, certs):
    path = config(tmp_path, 'upstream: { tls: { ca_file: "%s" } }\n' % certs.ca)
    p = run("-t", "-c", str(path))
    assert p.returncode == 0, p.stderr


# -- -T prints what -c reads back -------------------------------------------------------

RICH = r"""listen: ["127.0.0.1:{port}", "[::1]:{port}"]
acl: {{ allow: [10.0.0.0/8, "::1"], allow_destinations: [] }}
access_log: off
error_log: "-"
proxy_name: edge-1
limits: {{ client_header_timeout: 1.5s, client_idle_timeout: 250ms }}
upstream: {{ read_timeout: 1.2345678s, pool: {{ max_per_origin: 8 }} }}
dns: {{ servers: ["127.0.0.1:5353"] }}
cache:
  set_cookie: strip
  rules:
    - {{ match: '\.(deb|udeb)$', default_ttl: 30d }}
    - match: '^https?://dl\.example/[^#]*\?x=1: y'
      max_ttl: 5m
      ignore_query_params: [utm_source]
      follow_redirects: {{ max: 3, scope: same-site }}
      request_headers: {{ set: {{ X-Api-Key: 'k: "1" #x' }}, remove: [Cookie] }}
      response_headers: {{ set: {{ X-Served-By: '[magpie]' }}, remove: [Server] }}
    - {{ match: '^http://a/', follow_redirects: true }}
compression: {{ enabled: true, encodings: [br, gzip], types: ["text/*"], levels: {{ br: 11 }} }}
routes:
  - host: api.local
    origin: "http://127.0.0.1:8080"
    rewrite_location: false
    request_headers: {{ set: {{ X-Key: "a\\b" }} }}
  - host: secure.local
    origin: "https://backend.example"
    tls: {{ verify: false }}
    cache: {{ default_ttl: 60s, targeted_field: Magpie-Cache-Control,
             follow_redirects: {{ scope: any }} }}
    compression: {{ enabled: false }}
redirects:
  - {{ match: "^http://old\\.example/(.*)$", to: "https://new.example/$1" }}
  - {{ match: '^http://x/(\d+)$', to: "http://y/$1#frag", status: 308 }}
"""


def print_config(*args):
    p = run("-T", *args)
    assert p.returncode == 0, "exit %d; stderr:\n%s" % (p.returncode, p.stderr)
    assert p.stderr == ""
    return p.stdout


def assert_reads_back(tmp_path, text):
    printed = tmp_path / "printed.yaml"
    printed.write_text(text)
    p = run("-t", "-c", str(printed))
    assert p.returncode == 0, "the printed file fails -t:\n%s\n---\n%s" % (p.stderr, text)
    again = print_config("-c", str(printed))
    # the same but for the header naming the file
    assert again.split("\n", 1)[1] == text.split("\n", 1)[1]


def test_print_config_defaults(tmp_path):
    import resource
    text = print_config()
    assert text.startswith("# magpie 0.1.0: the effective configuration of the embedded defaults\n")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    conns = 10000 if hard == resource.RLIM_INFINITY or hard >= 20256 else (hard - 256) // 2
    for line in ['  - "127.0.0.1:3128"', "  max_connections: %d" % conns, "    verify: true",
                 '  ca_file: "/etc/ssl/certs/ca-certificates.crt"', "  memory_size: 64MiB",
                 "  enabled: false", "    - 443", "routes: []", "redirects: []"]:
        assert "\n" + line in text or line.strip() in text, "%r missing:\n%s" % (line, text)
    assert_reads_back(tmp_path, text)


def test_print_config_example_file(tmp_path):
    text = print_config("-c", str(REPO / "etc" / "magpie.yaml"))
    assert "\ncompression:\n  enabled: true\n" in text
    assert_reads_back(tmp_path, text)


def test_print_config_rich_file(tmp_path):
    src = tmp_path / "rich.yaml"
    src.write_text(RICH.format(port=free_port()))
    assert run("-t", "-c", str(src)).returncode == 0
    text = print_config("-c", str(src))
    for want in ['match: "\\\\.(deb|udeb)$"', 'default_ttl: 30d', '"X-Api-Key": "k: \\"1\\" #x"',
                 '"X-Served-By": "[magpie]"', "scope: same-site",
                 'targeted_field: "Magpie-Cache-Control"', '"X-Key": "a\\\\b"',
                 "status: 308", "  allow_destinations: []", "access_log: off"]:
        assert want in text, "%r missing:\n%s" % (want, text)
    assert_reads_back(tmp_path, text)


def test_print_config_of_an_invalid_file_exits_1(tmp_path):
    path = config(tmp_path, "bogus: 1\n")
    p = run("-T", "-c", str(path))
    assert p.returncode == 1, p.stderr
    assert p.stdout == "" and "%s:5:1: " % path in p.stderr


def wait_listening(p, port):
    """Until magpie process p accepts on port (10 s at most)."""
    import time
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            assert p.poll() is None, "magpie exited"
            assert time.monotonic() < deadline, "magpie did not listen"
            time.sleep(0.02)


def start_under_hard_limit(tmp_path, body, hard):
    """magpie started with a hard open-file limit of hard; its stderr once it
    listens, and its effective configuration (-T under the same limit)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))

    port = free_port()
    path = config(tmp_path, body, port)
    p = subprocess.Popen([str(magpie_bin()), "-c", str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=clean_env(), preexec_fn=limit)
    try:
        wait_listening(p, port)
    finally:
        p.terminate()  # by PID
        _, err = p.communicate(timeout=10)
    dump = subprocess.run([str(magpie_bin()), "-T", "-c", str(path)], capture_output=True,
                          text=True, timeout=10, env=clean_env(), preexec_fn=limit)
    return err, dump.stdout


def test_the_default_max_connections_fits_the_hard_limit_without_a_warning(tmp_path):
    err, dump = start_under_hard_limit(tmp_path, "", 4096)
    assert "open file limit" not in err, err
    assert re.search(r"^\s*max_connections: 1920$", dump, re.M), dump  # (4096 - 256) / 2


def test_a_max_connections_the_file_sets_is_kept_and_warned_about(tmp_path):
    err, dump = start_under_hard_limit(tmp_path, "limits: { max_connections: 10000 }\n", 4096)
    assert "open file limit 4096 is below the 20256 that limits.max_connections 10000" in err, err
    assert re.search(r"^\s*max_connections: 10000$", dump, re.M), dump


def test_make_run_config_starts_without_a_warning(tmp_path):
    """etc/magpie.yaml as `make run` uses it, under a hard limit below what
    10000 connections would need: nothing is wrong, so nothing is said."""
    import resource
    text = (REPO / "etc/magpie.yaml").read_text()
    port = free_port()
    text = text.replace("127.0.0.1:3128", "127.0.0.1:%d" % port)
    text = text.replace("dir: var/cache", "dir: %s" % (tmp_path / "cache"))
    path = tmp_path / "magpie.yaml"
    path.write_text(text)
    p = subprocess.Popen([str(magpie_bin()), "-c", str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=clean_env(), cwd=str(tmp_path),
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                               (1024, 8192)))
    try:
        wait_listening(p, port)
    finally:
        p.terminate()  # by PID
        _, err = p.communicate(timeout=10)
    assert "[warn]" not in err and "[error]" not in err, err
