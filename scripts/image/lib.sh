# Shared by the image scripts (sourced, not run). Everything is built here, without Docker or a
# container registry: buildah and podman keep their images in a storage of their own under the cache, so
# they neither see nor disturb the machine's default container storage.

IMAGE_CACHE="${KEYLEASE_IMAGE_CACHE:-$HOME/.cache/keylease-image}"
# The run-time state (locks, mounts) of each cache's storage lives under /run, cleared at boot.
IMAGE_RUNROOT="/run/keylease-image/$(printf %s "$IMAGE_CACHE" | cksum | cut -d' ' -f1)"
IMAGE_STORAGE=(--root "$IMAGE_CACHE/storage" --runroot "$IMAGE_RUNROOT" --storage-driver overlay)
IMAGE_REPO=localhost/keylease
PAUSE_IMAGE=localhost/keylease-pause:3.2
# Written after each build: the names and archives a cluster script loads.
IMAGE_ENV="$IMAGE_CACHE/images.env"

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

# Containers run under runc, the runtime the e2e node's containerd uses too. Debian's default, crun 1.8,
# refuses a machine whose cgroup v2 hierarchy is mounted beside v1 with a controller in it (hybrid mode:
# "drop all controllers from cgroupv2"), as some of these machines are; runc runs there.
IMAGE_OCI_RUNTIME=/usr/bin/runc
imgbuildah() { BUILDAH_RUNTIME="$IMAGE_OCI_RUNTIME" buildah "${IMAGE_STORAGE[@]}" "$@"; }
imgpodman() { podman "${IMAGE_STORAGE[@]}" --runtime "$IMAGE_OCI_RUNTIME" --tmpdir "$IMAGE_RUNROOT/libpod" "$@"; }

# Installs Debian packages with apt (only ever called for what is missing).
apt_install() {
  [ "$(id -u)" -eq 0 ] || die "missing $*: install them (apt-get install $*) or run as root"
  log "installing $* with apt"
  apt-get update -qq -o DPkg::Lock::Timeout=600
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >/dev/null
}

# Installs the packages of the commands that are missing (arguments: command:package).
ensure_tools() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

# Prints "URI KEYRING" of this machine's Debian archive entry for SUITE (Types deb, that exact suite),
# read from its apt sources (deb822 .sources files and one-line .list files), so no mirror is named here.
apt_debian_source() {
  local suite="$1" f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources) awk -v suite="$suite" '
        function flush() {
          if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") {
            split(uris, u, " "); print u[1] " " signed
          }
          types = ""; uris = ""; suites = ""; signed = ""
        }
        /^[ \t]*$/ { flush(); next }
        /^#/ { next }
        { field = $1; sub(/:$/, "", field); $1 = ""; sub(/^ /, "")
          if (field == "Types") types = $0; else if (field == "URIs") uris = $0
          else if (field == "Suites") suites = $0; else if (field == "Signed-By") signed = $0 }
        END { flush() }' "$f" ;;
      *) awk -v suite="$suite" '
        $1 == "deb" {
          i = 2; key = ""
          if ($2 ~ /^\[/) { for (; i <= NF; i++) { if ($i ~ /signed-by=/) key = $i; if ($i ~ /\]$/) break } i++ }
          sub(/.*signed-by=/, "", key); sub(/\]$/, "", key)
          if ($(i + 1) == suite) print $i " " key
        }' "$f" ;;
    esac
  done | head -n 1
}

# A short, stable digest of the named files' contents and relative paths (run it where those paths are
# relative to, so that every checkout of the same content gets the same key), and of any extra strings
# passed after `--`.
content_key() {
  local files=() extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do files+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift && extra=("$@")
  { printf '%s\n' "${extra[@]}"; find "${files[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } \
    | sha256sum | cut -c1-12
}

# Deletes all but the KEEP newest files matching PATTERN in the cache (other checkouts may be using them).
keep_newest() {
  local keep="$1" pattern="$2"
  find "$IMAGE_CACHE" -maxdepth 1 -name "$pattern" -printf '%T@ %p\n' | sort -rn | tail -n +"$((keep + 1))" | cut -d' ' -f2- \
    | while read -r old; do rm -f "$old"; printf '%s\n' "$old"; done
}

# Builds take the cache's lock exclusively, checks shared: a build may replace the storage's images.
lock_cache() {
  mkdir -p "$IMAGE_CACHE"
  exec 9>"$IMAGE_CACHE/.build.lock"
  flock "$1" 9
}

# Loads an OCI archive into buildah's storage under NAME unless an image of that name is already there.
ensure_in_storage() {
  local name="$1" archive="$2"
  imgbuildah inspect --type image "$name" >/dev/null 2>&1 && return 0
  log "loading $name from $archive"
  local id
  id="$(imgbuildah pull -q "oci-archive:$archive")" || die "$archive did not load"
  imgbuildah tag "$id" "$name"
}
