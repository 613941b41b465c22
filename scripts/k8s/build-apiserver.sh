#!/usr/bin/env bash
# Builds kube-apiserver 1.20.2 from Debian's kubernetes source package (see K8S-TESTING.md) and caches
# the binary outside the repository; later runs reuse it and only make sure etcd and openssl are there.
#   scripts/k8s/build-apiserver.sh                      # ~7 minutes the first time on 2 cores, then instant
#   KEYLEASE_K8S_CACHE=/some/dir scripts/k8s/build-apiserver.sh
# The last line on stdout is the binary's path; progress and timings go to stderr.
set -euo pipefail

CACHE_DIR="${KEYLEASE_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keylease-k8s}"
BIN="$CACHE_DIR/bin/kube-apiserver"
DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

log() { echo "build-apiserver: $*" >&2; }
now() { date +%s; }

# Installs the Debian packages that are not installed yet (apt-get update only if there are some).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
  fi
}

start=$(now)
# What the tests run next to the API server.
apt_install etcd-server openssl

if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
  log "cached: $("$BIN" --version)"
  echo "$BIN"
  exit 0
fi

# 1. deb-src for bookworm (the machines ship binary sources only).
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
  log "adding a deb-src entry for bookworm"
  $SUDO tee /etc/apt/sources.list.d/keylease-debian-src.sources >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  $SUDO apt-get update -qq
fi

# 2. Toolchain: Go 1.19, and what Kubernetes' make needs.
apt_install golang-go rsync jq make dpkg-dev golang-github-modern-go-reflect2-dev
t_apt=$(now)

# 3. Source package (kept in the cache: a rebuild skips the download).
mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/src"
cd "$CACHE_DIR/src"
if [[ ! -d src ]]; then
  apt-get source --download-only "kubernetes=$DEB_VERSION" >&2
  dpkg-source -x "kubernetes_${DEB_VERSION}.dsc" src >&2
fi
t_src=$(now)

# 4. The vendored reflect2 1.0.1 crashes the API server under Go >= 1.18 on the first pod create:
#    use Debian's 1.0.2 sources instead.
vendored=src/vendor/github.com/modern-go/reflect2
rm -f "$vendored"/*.go "$vendored"/*.s
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$vendored"/
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$vendored"/ 2>/dev/null || true

# 5. 1.20 builds in GOPATH mode and generates code in make: a plain `go build` does not work.
cd src
log "make WHAT=cmd/kube-apiserver (about 7 minutes on 2 cores)"
GOPROXY=off GOFLAGS= CGO_ENABLED=0 make WHAT=cmd/kube-apiserver >&2
install -m 0755 _output/bin/kube-apiserver "$BIN"
t_make=$(now)

log "timings: apt $((t_apt - start)) s, source $((t_src - t_apt)) s, make $((t_make - t_src)) s, total $((t_make - start)) s"
log "built: $("$BIN" --version)"
echo "$BIN"
