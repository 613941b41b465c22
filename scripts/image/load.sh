#!/usr/bin/env bash
# Imports the images of the last `npm run image:build` (named in $IMAGE_CACHE/images.env) into
# containerd's k8s.io namespace, where the kubelet's CRI looks, so pods run them with
# imagePullPolicy: Never or IfNotPresent. Also tags the keylease image $IMAGE_REPO:dev, a name that
# manifests can keep while the content tag changes.
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
for pair in "$KEYLEASE_IMAGE=$KEYLEASE_IMAGE_ARCHIVE" "$KEYLEASE_PAUSE_IMAGE=$KEYLEASE_PAUSE_ARCHIVE"; do
  name="${pair%%=*}" archive="${pair#*=}"
  wanted="$(tar -xOf "$archive" index.json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).manifests[0].digest)')"
  if k8s_ctr images ls "name==$name" | awk 'NR > 1 { print $3 }' | grep -qx "$wanted"; then
    log "$name is already in containerd (k8s.io)"
    continue
  fi
  log "importing $archive into containerd (k8s.io)"
  k8s_ctr images import "$archive" >/dev/null
done
for name in "$KEYLEASE_IMAGE" "$KEYLEASE_PAUSE_IMAGE"; do
  k8s_ctr images check "name==$name" | grep -q complete || die "$name is not complete in containerd after the import"
done
k8s_ctr images tag --force "$KEYLEASE_IMAGE" "$IMAGE_REPO:dev" >/dev/null
log "loaded $KEYLEASE_IMAGE (also $IMAGE_REPO:dev) and $KEYLEASE_PAUSE_IMAGE"
