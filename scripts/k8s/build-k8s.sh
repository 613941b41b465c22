#!/usr/bin/env bash
# Builds Kubernetes 1.20.2 binaries from Debian's kubernetes source package (see K8S-TESTING.md) and
# caches them outside the repository; later runs reuse them.
#   scripts/k8s/build-k8s.sh kube-apiserver
#   scripts/k8s/build-k8s.sh kube-controller-manager kube-scheduler kubelet kube-proxy
#   KEYLEASE_K8S_CACHE=/some/dir scripts/k8s/build-k8s.sh kubelet
# Cold: about 7 minutes for the API server on 2 cores, then about 6 more for the other four (they share
# most packages; Go's build cache stays in the source tree). One line per binary on stdout: its path,
# in the order asked; progress and timings go to stderr.
set -euo pipefail

CACHE_DIR="${KEYLEASE_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keylease-k8s}"
DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
KNOWN="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

log() { echo "build-k8s: $*" >&2; }
now() { date +%s; }

if (($# == 0)); then
  echo "usage: $0 <binary>...   (any of: $KNOWN)" >&2
  exit 2
fi
for name in "$@"; do
  [[ " $KNOWN " == *" $name "* ]] || { echo "build-k8s: unknown binary '$name'; known: $KNOWN" >&2; exit 2; }
done

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

cached() { [[ -x "$CACHE_DIR/bin/$1" ]] && "$CACHE_DIR/bin/$1" --version >/dev/null 2>&1; }

start=$(now)
todo=()
for name in "$@"; do cached "$name" || todo+=("$name"); done
if ((${#todo[@]} == 0)); then
  for name in "$@"; do log "cached: $("$CACHE_DIR/bin/$name" --version)"; echo "$CACHE_DIR/bin/$name"; done
  exit 0
fi

# 1. A deb-src entry for bookworm, from the machine's own bookworm "main" source (never a written-in host).
if ! apt-get indextargets --format '$(TARGET_OF) $(CODENAME)' 2>/dev/null | grep -q '^deb-src bookworm$'; then
  uri=$(apt-get indextargets --format '$(TARGET_OF) $(CODENAME) $(COMPONENT) $(REPO_URI)' |
    awk '$1 == "deb" && $2 == "bookworm" && $3 == "main" { print $4; exit }')
  if [[ -z "$uri" ]]; then
    echo "build-k8s: no Debian bookworm 'main' entry in the apt sources to take a deb-src URI from; add one (K8S-TESTING.md, step 1)" >&2
    exit 1
  fi
  log "adding a deb-src entry for bookworm from $uri"
  signed_by=""
  [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && signed_by="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n%s\n' "$uri" "$signed_by" |
    $SUDO tee /etc/apt/sources.list.d/keylease-debian-src.sources >/dev/null
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

# 5. 1.20 builds in GOPATH mode and generates code in make: a plain `go build` does not work. Static
#    binaries (no cgo), so they run anywhere on the machine.
cd src
what=()
for name in "${todo[@]}"; do what+=("cmd/$name"); done
log "make WHAT='${what[*]}' (minutes on 2 cores)"
GOPROXY=off GOFLAGS= CGO_ENABLED=0 make WHAT="${what[*]}" >&2
for name in "${todo[@]}"; do install -m 0755 "_output/bin/$name" "$CACHE_DIR/bin/$name"; done
t_make=$(now)

log "timings: apt $((t_apt - start)) s, source $((t_src - t_apt)) s, make $((t_make - t_src)) s, total $((t_make - start)) s"
for name in "$@"; do log "ready: $("$CACHE_DIR/bin/$name" --version)"; echo "$CACHE_DIR/bin/$name"; done
