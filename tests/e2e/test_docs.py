"""The man pages: docs/magpie.8 and docs/magpie.yaml.5 render with no
warning from man, magpie.yaml.5 names every key etc/magpie.yaml and the
parser know, its example loads, and magpie.8 names every option --help
lists."""

import re
import socket
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO_ROOT, clean_env, magpie_bin

DOCS = REPO_ROOT / "docs"
PAGES = ["magpie.8", "magpie.yaml.5"]


@pytest.mark.parametrize("page", PAGES)
def test_man_renders_without_warnings(page):
    assert shutil.which("man"), "man is missing (scripts/deps.sh installs man-db)"
    p = subprocess.run(["man", "--warnings", "-l", str(DOCS / page)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60,
                       env=clean_env(MANWIDTH="80", MAN_KEEP_FORMATTING="1"))
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", "man warns about %s:\n%s" % (page, p.stderr)
    assert len(p.stdout.splitlines()) > 40, "%s renders to almost nothing" % page


def yaml_keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from yaml_keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from yaml_keys(v)


def example_keys():
    """Keys etc/magpie.yaml sets, and those its comments show or describe
    ("#   default_ttl: ...", "# proxy_name: magpie", "#  - address: ...",
    "# and rewrite_location: ...")."""
    text = (REPO_ROOT / "etc" / "magpie.yaml").read_text()
    keys = set(yaml_keys(yaml.safe_load(text)))
    for line in text.splitlines():
        m = re.match(r"^\s*#\s*(?:-\s+|and\s+)?([a-z][a-z_]*(?:\s*/\s*[a-z][a-z_]*)*):(\s|$)", line)
        if m:
            keys.update(k.strip() for k in m.group(1).split("/"))
    return keys


def parser_keys():
    """Every key name in config.c's tables, by hand or through its macros."""
    text = (REPO_ROOT / "src" / "config.c").read_text()
    return set(re.findall(r'(?:\.name = |\b(?:DURATION|SIZE64|SIZE|UINT|LIST_OF|LIST)\()"([a-z_]+)"',
                          text))


def page_words(page):
    # roff escapes a hyphen as \-; keys have none, but unescape anyway
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", (DOCS / page).read_text().replace("\\-", "-")))


def test_example_file_keys_are_all_in_the_page():
    keys = example_keys()
    # the scan finds what it is meant to: keys set, shown in comments, described
    for k in ["listen", "max_idle_per_origin", "proxy_name", "allow_destinations", "address",
              "cert", "default_ttl", "follow_redirects", "request_headers", "response_headers",
              "targeted_field", "rewrite_location", "match", "to", "status"]:
        assert k in keys, "the scan of etc/magpie.yaml misses %s" % k
    missing = sorted(keys - page_words("magpie.yaml.5"))
    assert not missing, "docs/magpie.yaml.5 does not describe: %s" % ", ".join(missing)


def test_parser_keys_are_all_in_the_page():
    keys = parser_keys()
    assert {"listen", "stale_on_error", "ignore_query_params", "scope", "decompress"} <= keys
    missing = sorted(keys - page_words("magpie.yaml.5"))
    assert not missing, "docs/magpie.yaml.5 does not describe: %s" % ", ".join(missing)


def test_page_example_loads(tmp_path):
    src = (DOCS / "magpie.yaml.5").read_text()
    m = re.search(r"^\.SH EXAMPLE\n\.nf\n(.*?)^\.fi$", src, re.S | re.M)
    assert m, "no EXAMPLE section"
    text = m.group(1).replace("\\-", "-").replace("\\(aq", "'").replace("\\e", "\\")
    path = tmp_path / "example.yaml"
    path.write_text(text)
    # -T loads and validates without reading the certificate files it names
    p = subprocess.run([str(magpie_bin()), "-T", "-c", str(path)], capture_output=True, text=True,
                       timeout=30, env=clean_env())
    assert p.returncode == 0, "%s\n---\n%s" % (p.stderr, text)
    assert '"X-Api-Key": "k-123"' in p.stdout


def test_command_page_names_every_option():
    out = subprocess.run([str(magpie_bin()), "--help"], capture_output=True, text=True,
                         timeout=30, env=clean_env()).stdout
    options = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", out))
    assert {"-c", "--config", "-t", "--test", "-T", "--print-config", "-V", "--version", "-h",
            "--help"} <= options, out
    page = (DOCS / "magpie.8").read_text().replace("\\-", "-")
    missing = sorted(o for o in options if o not in page)
    assert not missing, "docs/magpie.8 does not describe: %s" % ", ".join(missing)
    for section in ["SYNOPSIS", "OPTIONS", "EXIT STATUS", "SIGNALS", "ENVIRONMENT", "FILES",
                    "SEE ALSO"]:
        assert ".SH %s\n" % section in page
    for name in ["SIGHUP", "SIGTERM", "SIGUSR1", "NOTIFY_SOCKET"]:
        assert name in page


def test_the_quick_start_works_as_written(tmp_path, magpie_factory):
    """README's quick start: a file ten days old served by python's
    http.server, asked twice through magpie: a MISS, then a HIT."""
    import os
    import subprocess
    import time

    import rawhttp
    from conftest import free_port

    readme = (REPO_ROOT / "README.md").read_text()
    assert "touch -d '10 days ago' /tmp/site/index.html" in readme
    assert "python3 -m http.server 8080 --bind 127.0.0.1 --directory /tmp/site &" in readme
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("hello\n")
    old = time.time() - 10 * 86400
    os.utime(site / "index.html", (old, old))
    port = free_port()
    origin = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", str(port), "--bind",
                               "127.0.0.1", "--directory", str(site)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d/" % port
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.05)
        m = magpie_factory()
        first = rawhttp.fetch(m.port, "GET", url)
        second = rawhttp.fetch(m.port, "GET", url)
        assert first.status == 200 and first.body == b"hello\n"
        assert first.header("x-cache") == "MISS" and second.header("x-cache") == "HIT"
        assert second.header("cache-status").startswith("magpie; hit; ttl=")
    finally:
        origin.terminate()  # by PID
        origin.wait(10)
