#!/usr/bin/env bash
# Imports the images of the last `npm run image:build` (named in $IMAGE_CACHE/images.env) into
# containerd's k8s.io namespace, where the kubelet's CRI looks, so pods run them with
# imagePullPolicy: Never or IfNotPresent. The keylease image comes under its content tag and as
# keylease:dev (docker.io/library/keylease:dev) and localhost/keylease:dev, names a pod spec can keep.
# The containerd socket is $CONTAINERD_ADDRESS, else containerd's default.
# Usage: load.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

[ -f "$IMAGE_ENV" ] || die "no $IMAGE_ENV: run npm run image:build first"
# shellcheck disable=SC1090
source "$IMAGE_ENV"
address="${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}"
[ -S "$address" ] || die "containerd is not listening on $address: start it, or set CONTAINERD_ADDRESS to its socket"
ensure_tools ctr:containerd

k8s_ctr() { ctr --address "$address" --namespace k8s.io "$@"; }
# "name digest" for every name an archive gives its image.
archive_refs() {
  tar -xOf "$1" index.json | node -e '
    for (const m of JSON.parse(require("fs").readFileSync(0, "utf8")).manifests)
      console.log(`${m.annotations["org.opencontainers.image.ref.name"]} ${m.digest}`);'
}
for archive in "$KEYLEASE_CLUSTER_ARCHIVE" "$KEYLEASE_PAUSE_ARCHIVE"; do
  refs="$(archive_refs "$archive")"
  held="$(k8s_ctr images ls | awk 'NR > 1 { print $1 " " $3 }')"
  if [ -z "$(comm -23 <(sort <<<"$refs") <(sort <<<"$held"))" ]; then
    log "$(basename "$archive"): already in containerd (k8s.io)"
    continue
  fi
  log "importing $archive into containerd (k8s.io)"
  k8s_ctr images import "$archive" >/dev/null
  while read -r name _; do
    k8s_ctr images check "name==$name" | grep -q complete || die "$name is not complete in containerd after the import"
    log "loaded $name"
  done <<<"$refs"
done
