#!/usr/bin/env bash
# Makes the pod sandbox image a kubelet needs (its --pod-infra-container-image), since no registry can be
# pulled from here: pause/pause.c compiled static, alone in an image, as localhost/keylease-pause:3.2.
# Cached as $IMAGE_CACHE/pause-<key>.tar, keyed by the source and this script. Prints the archive's path.
# Usage: pause.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

key="$(cd "$here" && content_key pause.sh pause/pause.c)"
archive="$IMAGE_CACHE/pause-$key.tar"
if [ -f "$archive" ]; then echo "$archive"; exit 0; fi

ensure_tools gcc:gcc buildah:buildah runc:runc
[ -f "/usr/lib/$(gcc -dumpmachine)/libc.a" ] || apt_install libc6-dev
mkdir -p "$IMAGE_CACHE"
work="$(mktemp -d "$IMAGE_CACHE/tmp-pause.XXXXXX")"
container=""
cleanup() { [ -z "$container" ] || imgbuildah rm "$container" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

gcc -Os -static -s -Wall -Wextra -Werror -o "$work/pause" "$here/pause/pause.c"
container="$(imgbuildah from --pull=never scratch)"
imgbuildah copy --chmod 0755 "$container" "$work/pause" /pause >/dev/null
# 65535: the unprivileged user the upstream sandbox image runs as.
imgbuildah config --os linux --arch "$(dpkg --print-architecture)" --entrypoint '["/pause"]' --cmd '' \
  --user 65535:65535 --label org.opencontainers.image.description="pod sandbox process, made by keylease scripts/image/pause.sh" \
  "$container"
imgbuildah commit -q --rm "$container" "$PAUSE_IMAGE" >/dev/null; container=""
imgbuildah push -q "$PAUSE_IMAGE" "oci-archive:$archive.partial:$PAUSE_IMAGE"
mv "$archive.partial" "$archive"
keep_newest 2 'pause-*.tar' >/dev/null
echo "$archive"
