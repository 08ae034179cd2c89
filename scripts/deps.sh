#!/bin/sh
# Installs the Debian packages magpie builds and tests with, and only those
# that are missing. Libraries are probed with pkg-config, or by header where
# Debian ships no .pc file (libev, http-parser); tools with command -v.
# `sh scripts/deps.sh bench` also installs what `make bench` drives: nginx
# (the origin) and wrk (the load generator); `sh scripts/deps.sh fuzz` what
# `make fuzz` builds with: clang and its libFuzzer runtime.
set -eu

mode="${1:-}"
case "$mode" in
"" | bench | fuzz) ;;
*) echo "usage: sh scripts/deps.sh [bench|fuzz]" >&2; exit 2 ;;
esac

missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_h() { [ -f "/usr/include/$1" ] || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_py() { /usr/bin/python3 -c "import $1" 2>/dev/null || missing="$missing $2"; }

need_cmd cc gcc
need_cmd make make
need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    need_pc openssl libssl-dev
    need_pc zlib zlib1g-dev
    need_pc yaml-0.1 libyaml-dev
    need_pc cmocka libcmocka-dev
    need_pc libcares libc-ares-dev
    need_pc libbrotlienc libbrotli-dev
    need_pc libbrotlidec libbrotli-dev
    need_pc libzstd libzstd-dev
    need_pc libpcre2-8 libpcre2-dev
    need_pc libpsl libpsl-dev
    need_pc libcrypt libcrypt-dev
fi
need_h ev.h libev-dev
need_h http_parser.h libhttp-parser-dev
need_cmd curl curl
# tests/e2e/test_logs.py checks etc/logrotate.d/magpie with it; it lives in
# /usr/sbin, which a non-root PATH may lack
[ -x /usr/sbin/logrotate ] || need_cmd logrotate logrotate
# the e2e tests of the unit files and of socket activation (tests/e2e/test_systemd.py)
need_cmd systemd-analyze systemd
need_cmd systemd-socket-activate systemd
need_cmd openssl openssl
# tests/e2e/test_docs.py renders the man pages with man --warnings
need_cmd man man-db
# tests/e2e/test_auth.py writes its htpasswd files with Apache's htpasswd
need_cmd htpasswd apache2-utils
if [ -x /usr/bin/python3 ]; then
    need_py pytest python3-pytest
    need_py aiohttp python3-aiohttp
    need_py httpx python3-httpx
    need_py requests python3-requests
    need_py brotli python3-brotli
    need_py zstandard python3-zstandard
    need_py prometheus_client python3-prometheus-client
else
    missing="$missing python3 python3-pytest python3-aiohttp python3-httpx python3-requests"
    missing="$missing python3-brotli python3-zstandard"
fi
if [ "$mode" = bench ]; then
    # nginx lives in /usr/sbin, which a non-root PATH may lack.
    [ -x /usr/sbin/nginx ] || need_cmd nginx nginx
    need_cmd wrk wrk
    need_cmd taskset util-linux
fi
if [ "$mode" = fuzz ]; then
    # libFuzzer lives in clang's resource directory, shipped by
    # libclang-rt-N-dev for clang N; without clang, libclang-rt-dev is the
    # runtime of the clang Debian installs by default.
    if command -v clang >/dev/null 2>&1; then
        rt="$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
        major=$(clang -dumpversion | cut -d. -f1)
        [ -f "$rt" ] || missing="$missing libclang-rt-$major-dev"
    else
        missing="$missing clang libclang-rt-dev"
    fi
fi

[ -z "$missing" ] && exit 0
# pkg-config missing means the .pc probes were skipped: install them all.
if ! command -v pkg-config >/dev/null 2>&1; then
    missing="$missing libssl-dev zlib1g-dev libyaml-dev libcmocka-dev libc-ares-dev"
    missing="$missing libbrotli-dev libzstd-dev libpcre2-dev libpsl-dev libcrypt-dev"
fi
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
    echo "deps: not root; install these packages and retry:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Installing nginx would start the packaged service on port 80; the bench runs
# its own nginx. Without a policy-rc.d already in place, deny service starts
# for the duration of the install only.
policy=""
if [ "$mode" = bench ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
