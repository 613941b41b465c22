#!/usr/bin/env bash
# Installs a real Lodestar 1.5.1 (beacon node + validator client) for the tests, outside the product's
# dependencies, into a cache folder kept between runs. Skips when the cache already holds a working one.
# The last line on stdout is the path of the `lodestar` binary; progress and timings go to stderr.
#   KEYLEASE_LODESTAR_CACHE  cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/keylease-lodestar-1.5.1)
set -euo pipefail

version=1.5.1
here="$(cd "$(dirname "$0")" && pwd)"
recipe="$here/../../test/lodestar"
cache="${KEYLEASE_LODESTAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keylease-lodestar-$version}"
bin="$cache/node_modules/.bin/lodestar"
started=$SECONDS

log() { echo "lodestar-install: $*" >&2; }

# The recipe's fingerprint: a cache made from another package.json or lockfile is rebuilt.
recipe_hash="$(cat "$recipe/package.json" "$recipe/yarn.lock.in" | sha256sum | cut -d' ' -f1)"

works() {
  [ -x "$bin" ] && [ "$(cat "$cache/.recipe" 2>/dev/null)" = "$recipe_hash" ] &&
    "$bin" --version 2>/dev/null | grep -q "v$version"
}

mkdir -p "$(dirname "$cache")"
# Two runs at once (CI and a developer) must not build into the same folder.
exec 9>"$cache.lock"
flock 9

if works; then
  log "Lodestar $version already installed in $cache ($((SECONDS - started)) s)"
  echo "$bin"
  exit 0
fi

# Native addons (blst, classic-level, ...) build from source.
missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The registry comes from the machine's npm configuration, never from a file in the repository.
registry="$(npm config get registry)"
registry="${registry%/}"
if [ -z "$registry" ] || [ "$registry" = "undefined" ]; then
  log "npm has no registry configured (npm config get registry): set one and rerun"
  exit 1
fi

log "installing Lodestar $version into $cache (about a minute the first time)"
rm -rf "$cache"
mkdir -p "$cache"
cp "$recipe/package.json" "$cache/package.json"
sed "s#@@REGISTRY@@#$registry#g" "$recipe/yarn.lock.in" >"$cache/yarn.lock"
(
  cd "$cache"
  npx --yes yarn@1 install --ignore-engines --non-interactive --network-timeout 600000 \
    --registry "$registry" 1>&2
)

if ! "$bin" --version 2>/dev/null | grep -q "v$version"; then
  log "the installed $bin does not answer --version with v$version"
  exit 1
fi
echo "$recipe_hash" >"$cache/.recipe"
log "Lodestar $version installed in $((SECONDS - started)) s"
echo "$bin"
