#!/usr/bin/env bash
# Installs Debian's redis-server for the queue tests and benchmarks (test/redisServer.ts starts its
# own server on a free port and stops it), when no redis-server is on PATH. No system service is
# left running or enabled: tests start theirs, and `rsi worker` users point at their own Redis.
# Idempotent: with redis-server on PATH it does nothing.
set -euo pipefail

log() { echo "install-redis: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v redis-server >/dev/null && exit 0
command -v apt-get >/dev/null || die "apt-get not found; install redis-server (7 or later) by hand"
[ "$(id -u)" = 0 ] || die "need root to apt-get install redis-server (or install it by hand)"
export DEBIAN_FRONTEND=noninteractive
# Another apt (an unattended upgrade) may hold dpkg's lock for a while: wait for it.
apt_get() { apt-get -o DPkg::Lock::Timeout=120 "$@"; }

# The package's maintainer script starts the service through invoke-rc.d: a policy that denies
# every start (exit 101) keeps it stopped, and is removed again unless the machine had one.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi

# Update the package lists only when they do not know the package, or the install fails on them.
if ! apt-cache policy redis-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  log "apt-get update"
  apt_get update -qq >&2
fi
log "apt-get install redis-server"
if ! apt_get install -y -qq --no-install-recommends redis-server >&2; then
  log "install failed, retrying after apt-get update"
  apt_get update -qq >&2
  apt_get install -y -qq --no-install-recommends redis-server >&2 || die "apt-get install redis-server failed"
fi
# The package enables its unit and init script at boot: tests need no service, so disable both
# (stopping it too where systemd runs).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl disable --now redis-server >&2 || log "could not disable the redis-server service (left as is)"
else
  deb-systemd-helper disable redis-server.service >&2 || true
  update-rc.d redis-server disable >/dev/null 2>&1 || true
fi
command -v redis-server >/dev/null || die "redis-server installed but not on PATH"
log "$(redis-server --version)"
