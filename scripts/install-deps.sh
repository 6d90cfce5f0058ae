#!/usr/bin/env bash
# Installs what shardgate's sandbox, tests and benchmarks need on Debian 12:
#   mariadb-server (mariadbd), mariadb-client (mariadb), sysbench, haproxy, python3 pymysql,
#   prometheus (for promtool, which checks deploy/prometheus/*.yml), cargo-fuzz (crates.io).
# Idempotent: installs only what is missing; prints nothing but a summary when all is present.
# Run as root. The sandbox starts its own mariadbd instances, so the Debian mariadb (and
# haproxy, prometheus) services this installs are kept from starting and disabled.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log="$(mktemp -t shardgate-install-deps.XXXXXX)"
policy_rc=/usr/sbin/policy-rc.d
policy_rc_ours=0

cleanup() {
    if [[ $policy_rc_ours == 1 ]]; then
        rm -f "$policy_rc"
    fi
    rm -f "$log"
}
trap cleanup EXIT

die() {
    echo "install-deps: error: $*" >&2
    if [[ -s $log ]]; then
        echo "--- last lines of the command output ---" >&2
        tail -n 30 "$log" >&2
    fi
    exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# `python3 -c 'import pymysql'` with the python3 first on PATH (what the scripts use).
have_pymysql() { have python3 && python3 -c 'import pymysql' >/dev/null 2>&1; }

# python3 on PATH is Debian's own (then pymysql comes from apt, as pip refuses to touch it).
system_python() {
    local py
    py="$(command -v python3 2>/dev/null || true)"
    [[ -z $py ]] && return 0
    case "$(readlink -f "$py")" in
        /usr/bin/*) return 0 ;;
        *) return 1 ;;
    esac
}

packages=()
[[ -x /usr/sbin/mariadbd ]] || have mariadbd || packages+=(mariadb-server)
have mariadb || packages+=(mariadb-client)
have sysbench || packages+=(sysbench)
[[ -x /usr/sbin/haproxy ]] || have haproxy || packages+=(haproxy)
have promtool || packages+=(prometheus)
need_pip=0
if ! have_pymysql; then
    if system_python; then
        packages+=(python3 python3-pymysql)
    else
        need_pip=1
    fi
fi

if ((${#packages[@]} > 0)); then
    [[ $(id -u) == 0 ]] || die "missing ${packages[*]}; run this script as root (sudo $0)"
    have apt-get || die "apt-get not found: this script supports Debian 12; install ${packages[*]} by hand"
    echo "install-deps: installing ${packages[*]}"

    # Keep the packages' services (mariadb, haproxy, prometheus) from starting during the install.
    if [[ ! -e $policy_rc ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
        chmod 755 "$policy_rc"
        policy_rc_ours=1
    fi

    apt-get update -qq >>"$log" 2>&1 || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >>"$log" 2>&1 ||
        die "apt-get install ${packages[*]} failed"

    # Not needed at boot either: the sandbox runs its own servers.
    services=()
    [[ " ${packages[*]} " == *" mariadb-server "* ]] && services+=(mariadb)
    [[ " ${packages[*]} " == *" haproxy "* ]] && services+=(haproxy)
    [[ " ${packages[*]} " == *" prometheus "* ]] && services+=(prometheus)
    for unit in "${services[@]}"; do
        if [[ -d /run/systemd/system ]] && have systemctl; then
            systemctl disable --now "$unit" >>"$log" 2>&1 || true
        elif have service; then
            service "$unit" stop >>"$log" 2>&1 || true
        fi
    done
fi

if ((need_pip)); then
    echo "install-deps: installing pymysql for $(command -v python3)"
    python3 -m pip --version >/dev/null 2>&1 ||
        die "python3 ($(command -v python3)) has no pip; install pip or use Debian's python3 with python3-pymysql"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check pymysql \
        >>"$log" 2>&1 || die "pip install pymysql failed"
fi

# cargo-fuzz, for the fuzz targets scripts/test.sh runs (from crates.io, with the toolchain
# already here: libFuzzer is built by the libfuzzer-sys crate with the C++ compiler, and its
# nightly compiler flags are unlocked on stable by scripts/fuzz-targets.sh).
if ! cargo fuzz --version >/dev/null 2>&1; then
    have c++ || die "cargo-fuzz needs a C++ compiler (apt-get install g++)"
    echo "install-deps: installing cargo-fuzz"
    cargo install --locked cargo-fuzz >>"$log" 2>&1 || die "cargo install cargo-fuzz failed"
fi

# Check the result, whatever was there before.
missing=()
[[ -x /usr/sbin/mariadbd ]] || have mariadbd || missing+=("mariadbd (mariadb-server)")
have mariadb-install-db || [[ -x /usr/bin/mariadb-install-db ]] || missing+=("mariadb-install-db (mariadb-server)")
have mariadb || missing+=("mariadb (mariadb-client)")
have sysbench || missing+=(sysbench)
[[ -x /usr/sbin/haproxy ]] || have haproxy || missing+=(haproxy)
have promtool || missing+=("promtool (prometheus)")
have_pymysql || missing+=("python3 module pymysql")
cargo fuzz --version >/dev/null 2>&1 || missing+=("cargo-fuzz")
((${#missing[@]} == 0)) || die "still missing after install: ${missing[*]}"

if [[ -d /run/systemd/system ]] && have systemctl && systemctl is-active --quiet mariadb 2>/dev/null; then
    echo "install-deps: note: the system mariadb service is running; shardgate does not need it" \
        "(systemctl disable --now mariadb)"
fi

mariadbd_bin="$(command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd)"
echo "install-deps: ok ($("$mariadbd_bin" --version | sed -E 's/.*Ver ([^ ]+).*/mariadbd \1/'), $(sysbench --version), $("$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)" -v | head -n1 | cut -d' ' -f1-3))"
