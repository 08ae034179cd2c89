"""Command line: -V, -h, -t with file:line:col errors, usage errors (exit 2),
start-up failure (exit 3)."""

import re
import socket
import subprocess

import pytest

from conftest import clean_env, free_port, magpie_bin

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


def test_version():
    p = run("-V")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "magpie 0.1.0"


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
