#!/usr/bin/env bash
# Builds the images the e2e cluster runs, without Docker or a registry, as OCI archives that
# `ctr -n k8s.io images import` loads (the cluster does that at start):
#   - pause: a static pause binary compiled here (the pods' sandbox image), keylease.local/pause:e2e;
#   - keylease: the project's image, docker.io/library/keylease:dev (what `keylease:dev` means to the
#     CRI). Taken from the image build (~/.cache/keylease-image, scripts/image) when it has one;
#     otherwise a stand-in made here: this checkout's `npm run build` output and production
#     node_modules, the machine's own node binary and its libraries, busybox for /bin/sh.
#   scripts/k8s/images/build-images.sh        # prints the archives' paths, one a line
# The stand-in is rebuilt when the checkout's source or lock file changed since the last build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
CACHE_DIR="${KEYLEASE_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keylease-k8s}/images"
IMAGE_CACHE="${KEYLEASE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keylease-image}"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$CACHE_DIR"
log() { echo "build-images: $*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
}
apt_install gcc libc6-dev busybox-static

# --- pause ---
pause_tar="$CACHE_DIR/pause.tar"
if [[ ! -f "$pause_tar" || "$here/pause.c" -nt "$pause_tar" ]]; then
  work=$(mktemp -d)
  gcc -Os -static -o "$work/pause" "$here/pause.c"
  strip "$work/pause"
  mkdir "$work/rootfs" && install -m 0755 "$work/pause" "$work/rootfs/pause"
  bash "$here/oci-image.sh" "$work/rootfs" keylease.local/pause:e2e "$pause_tar" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
  rm -rf "$work"
  log "pause image: $pause_tar ($(du -h "$pause_tar" | cut -f1))"
fi
echo "$pause_tar"

# --- keylease ---
if [[ -f "$IMAGE_CACHE/keylease.oci.tar" ]]; then
  log "keylease image from the image build: $IMAGE_CACHE/keylease.oci.tar"
  echo "$IMAGE_CACHE/keylease.oci.tar"
  exit 0
fi
app_tar="$CACHE_DIR/keylease-standin.tar"
stamp=$(cd "$root" && cat package-lock.json Dockerfile bin/keylease.js $(git ls-files shared coordinator agent cli) | sha256sum | cut -c1-16)
if [[ -f "$app_tar" && "$(cat "$app_tar.stamp" 2>/dev/null)" == "$stamp" ]]; then
  echo "$app_tar"
  exit 0
fi
log "keylease stand-in image (no image build in $IMAGE_CACHE yet)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{app,bin,tmp,etc,usr/bin} && chmod 1777 "$rootfs/tmp"
(cd "$root" && npx tsx scripts/build.ts "$rootfs/app/dist" >&2)
cp "$root/package.json" "$root/package-lock.json" "$rootfs/app/"
cp -r "$root/bin" "$rootfs/app/bin"
# Production dependencies exactly as locked: a hard-linked copy of the checkout's install, pruned.
cp -al "$root/node_modules" "$rootfs/app/node_modules"
(cd "$rootfs/app" && npm prune --omit=dev --offline --no-audit --no-fund >&2)
rm "$rootfs/app/package-lock.json"
sh "$root/scripts/image/prune-node-modules.sh" "$rootfs/app/node_modules" 2>/dev/null || true
# node, and the shared libraries it and the native addons load.
node_bin=$(readlink -f "$(command -v node)")
install -m 0755 "$node_bin" "$rootfs/usr/bin/node"
for lib in $( (ldd "$node_bin"; find "$rootfs/app/node_modules" -name '*.node' -exec ldd {} \;) | grep -o '/[^ ]*' | sort -u); do
  mkdir -p "$rootfs$(dirname "$lib")" && cp -L "$lib" "$rootfs$lib"
done
install -m 0755 /bin/busybox "$rootfs/bin/busybox"
for tool in sh cat tr grep paste sed ls sleep env wget id ps; do ln -s busybox "$rootfs/bin/$tool"; done
printf 'root:x:0:0::/root:/bin/sh\nkeylease:x:10001:10001::/tmp:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nkeylease:x:10001:\n' >"$rootfs/etc/group"
bash "$here/oci-image.sh" "$rootfs" docker.io/library/keylease:dev "$app_tar" \
  '{"User":"10001:10001","Env":["NODE_ENV=production","PATH=/usr/bin:/bin"],"WorkingDir":"/app","Entrypoint":["node","/app/bin/keylease.js"],"Cmd":["--help"]}'
echo "$stamp" >"$app_tar.stamp"
log "keylease stand-in image: $app_tar ($(du -h "$app_tar" | cut -f1))"
echo "$app_tar"
