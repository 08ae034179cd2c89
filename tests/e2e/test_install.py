"""make install and make uninstall into a DESTDIR: the binary, every unit in
systemd/ with its paths where install put things, the man pages, the README,
the example configuration (never over an existing one) and the logrotate
file when the tree has one; uninstall removes them all but a configuration
that was changed."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, clean_env, magpie_bin

UNITS = sorted(p.name for p in (REPO_ROOT / "systemd").iterdir())
LOGROTATE = REPO_ROOT / "etc" / "logrotate.d" / "magpie"


def make(target, destdir, *variables):
    """make TARGET DESTDIR=destdir, reusing the build the tests run when it
    is in this tree rather than building another."""
    args = ["make", "--no-print-directory", "-s", "-C", str(REPO_ROOT), target,
            "DESTDIR=%s" % destdir] + list(variables)
    build = magpie_bin().parent
    if build.is_relative_to(REPO_ROOT):
        args.append("BUILD=%s" % build.relative_to(REPO_ROOT))
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=540, env=clean_env())
    assert p.returncode == 0, "make %s: exit %d\n%s%s" % (target, p.returncode, p.stdout, p.stderr)
    return p


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def expected(prefix):
    p = prefix.lstrip("/")
    want = ["%s/sbin/magpie" % p, "%s/share/doc/magpie/README.md" % p,
            "%s/share/man/man8/magpie.8" % p, "%s/share/man/man5/magpie.yaml.5" % p,
            "etc/magpie/magpie.yaml"]
    want += ["%s/lib/systemd/system/%s" % (p, u) for u in UNITS]
    if LOGROTATE.exists():
        want.append("etc/logrotate.d/magpie")
    return sorted(want)


def unit_paths(text):
    """The absolute paths of programs and files the unit's commands name."""
    paths = set()
    for line in text.splitlines():
        m = re.match(r"^Exec\w+=[-@:+!]*(\S+)(.*)$", line)
        if m:
            paths.add(m.group(1))
            paths.update(re.findall(r"(?<=\s)(/\S+)", m.group(2)))
    return paths


@pytest.mark.time_limit(600)
def test_install_and_uninstall_with_prefix_usr(tmp_path):
    dest = tmp_path / "root"
    make("install", dest, "PREFIX=/usr")
    assert files_under(dest) == expected("/usr")

    binary = dest / "usr/sbin/magpie"
    assert os.access(binary, os.X_OK)
    if magpie_bin().parent.is_relative_to(REPO_ROOT):
        assert binary.read_bytes() == magpie_bin().read_bytes()
    for u in UNITS:
        text = (dest / "usr/lib/systemd/system" / u).read_text()
        assert "/usr/local/" not in text, "%s still names /usr/local:\n%s" % (u, text)
        for path in unit_paths(text):
            if path.startswith("/usr/sbin/") or path.startswith("/etc/magpie/"):
                assert (dest / path.lstrip("/")).exists(), "%s names %s, not installed" % (u, path)
    assert "ExecStart=/usr/sbin/magpie -c /etc/magpie/magpie.yaml" in \
        (dest / "usr/lib/systemd/system/magpie.service").read_text()

    conf = dest / "etc/magpie/magpie.yaml"
    original = conf.read_text()
    assert "\n  dir: /var/cache/magpie\n" in original
    # what the unit's ExecStartPre runs passes on the installed file
    p = subprocess.run([str(binary), "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30, env=clean_env())
    assert p.returncode == 0, p.stderr
    if LOGROTATE.exists():
        assert (dest / "etc/logrotate.d/magpie").read_bytes() == LOGROTATE.read_bytes()

    # a second install keeps a configuration that was changed
    conf.write_text(original + "# changed by the administrator\n")
    binary.write_bytes(b"stale")
    make("install", dest, "PREFIX=/usr")
    assert conf.read_text().endswith("# changed by the administrator\n")
    assert binary.read_bytes() != b"stale"

    # uninstall removes everything install put, but the changed file
    p = make("uninstall", dest, "PREFIX=/usr")
    assert files_under(dest) == ["etc/magpie/magpie.yaml"]
    assert "keeping" in p.stdout + p.stderr
    assert not (dest / "usr/share/doc/magpie").exists()

    # unchanged, it goes too, and its directory with it
    conf.write_text(original)
    make("uninstall", dest, "PREFIX=/usr")
    assert files_under(dest) == []
    assert not (dest / "etc/magpie").exists()


@pytest.mark.time_limit(600)
def test_install_default_prefix_matches_the_unit(tmp_path):
    dest = tmp_path / "root"
    make("install", dest)
    assert files_under(dest) == expected("/usr/local")
    text = (dest / "usr/local/lib/systemd/system/magpie.service").read_text()
    assert "ExecStart=/usr/local/sbin/magpie -c /etc/magpie/magpie.yaml" in text
    make("uninstall", dest)
    assert files_under(dest) == []
