#!/usr/bin/env bash
# `npm run image:build [-- --load]`: builds the project's image from the Dockerfile without Docker or a
# registry: buildah, on the Node base images of base.sh, reaching only the npm registry this machine's
# npm is configured with. Writes an OCI archive, $IMAGE_CACHE/keylease-<key>.tar holding
# localhost/keylease:<key>, where <key> digests every file the Dockerfile copies plus the Dockerfile and
# the base; an unchanged key skips the build. $IMAGE_CACHE/keylease.oci.tar holds the same image also
# named keylease:dev and localhost/keylease:dev, for a cluster to import. Also makes the pod sandbox
# image (pause.sh). Writes the names and archives to $IMAGE_CACHE/images.env and prints that file.
#   --load   also imports both images into containerd's k8s.io namespace (load.sh; containerd must run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

load=false
for arg in "$@"; do
  case "$arg" in
    --load) load=true ;;
    *) die "unknown argument '$arg' (accepted: --load)" ;;
  esac
done

ensure_tools buildah:buildah debootstrap:debootstrap podman:podman gcc:gcc runc:runc
# One build at a time per cache (CI, a cluster script and other checkouts may all ask for the image).
lock_cache -x
started=$SECONDS

read -r runtime_base build_base base_key < <(bash "$here/base.sh")
pause_archive="$(bash "$here/pause.sh")"
log "bases ready in $((SECONDS - started)) s"

cd "$root"
# The build context is what the Dockerfile's COPY lines name (not --from ones), so the key follows the
# Dockerfile instead of a list kept beside it.
mapfile -t sources < <(awk 'toupper($1) == "COPY" && $2 !~ /^--from=/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' Dockerfile)
key="$(content_key Dockerfile .dockerignore "${sources[@]}" -- "$base_key")"
image="$IMAGE_REPO:$key"
archive="$IMAGE_CACHE/keylease-$key.tar"

if [ -f "$archive" ]; then
  log "unchanged since the last build: $archive"
  touch "$archive"  # recently used: kept when older builds are pruned
else
  build_args=(--build-arg NODE_IMAGE="$runtime_base" --build-arg NODE_BUILD_IMAGE="$build_base")
  registry="$(npm config get registry)"
  build_args+=(--build-arg NPM_CONFIG_REGISTRY="$registry")
  # A CA file this machine's npm trusts (a TLS-inspecting proxy's) is mounted into the build stages.
  cafile="$(npm config get cafile)"
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ]; then
    [ -f "$cafile" ] || die "npm's cafile $cafile does not exist: fix 'npm config get cafile'"
    build_args+=(--build-arg NPM_CONFIG_CAFILE=/run/npm-ca.crt --volume "$cafile:/run/npm-ca.crt:ro")
  fi
  log "building $image (buildah, layers cached in ${IMAGE_STORAGE[1]})"
  imgbuildah bud --network host --pull=never --layers "${build_args[@]}" -t "$image" . >"$IMAGE_CACHE/build.log" 2>&1 \
    || { tail -n 30 "$IMAGE_CACHE/build.log" >&2; die "buildah bud failed (full log: $IMAGE_CACHE/build.log)"; }
  imgbuildah push -q "$image" "oci-archive:$archive.partial:$image"
  mv "$archive.partial" "$archive"
  # The three newest builds stay (other checkouts of the project share this cache); the layer cache
  # stays for the next partial rebuild.
  keep_newest 3 'keylease-*.tar' | while read -r old; do
    old="${old##*/keylease-}"
    imgbuildah rmi "$IMAGE_REPO:${old%.tar}" >/dev/null 2>&1 || true
  done
fi

# The archive a cluster loads: the same image under its content tag and under the stable names a pod
# spec can keep, `keylease:dev` (docker.io/library/keylease:dev to the CRI) and localhost/keylease:dev.
cluster_archive="$IMAGE_CACHE/keylease.oci.tar"
if ! tar -xOf "$cluster_archive" index.json 2>/dev/null | grep -q "\"$image\""; then
  work="$(mktemp -d "$IMAGE_CACHE/tmp-archive.XXXXXX")"
  tar -xOf "$archive" index.json | node -e '
    const index = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [manifest] = index.manifests;
    const name = "org.opencontainers.image.ref.name";
    index.manifests = [manifest.annotations[name], ...process.argv.slice(1)]
      .map((ref) => ({ ...manifest, annotations: { ...manifest.annotations, [name]: ref } }));
    process.stdout.write(JSON.stringify(index));
  ' docker.io/library/keylease:dev "$IMAGE_REPO:dev" >"$work/index.json"
  mkdir "$work/layout"
  tar -xf "$archive" -C "$work/layout"
  mv "$work/index.json" "$work/layout/index.json"
  tar -cf "$work/keylease.oci.tar" -C "$work/layout" oci-layout index.json blobs
  mv "$work/keylease.oci.tar" "$cluster_archive"
  rm -rf "$work"
fi

cat >"$IMAGE_ENV" <<EOF
KEYLEASE_IMAGE=$image
KEYLEASE_IMAGE_ARCHIVE=$archive
KEYLEASE_CLUSTER_ARCHIVE=$cluster_archive
KEYLEASE_PAUSE_IMAGE=$PAUSE_IMAGE
KEYLEASE_PAUSE_ARCHIVE=$pause_archive
EOF
log "done in $((SECONDS - started)) s"
if $load; then bash "$here/load.sh"; fi
cat "$IMAGE_ENV"
