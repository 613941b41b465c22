#!/usr/bin/env bash
# Packs a root filesystem directory into an OCI image archive that `ctr images import` loads:
#   oci-image.sh ROOTFS NAME OUT.tar CONFIG_JSON
# NAME is the full reference (e.g. docker.io/library/keylease:dev, what the CRI makes of keylease:dev);
# CONFIG_JSON is the image's "config" object, e.g. '{"Entrypoint":["/pause"]}'. One layer, no registry.
set -euo pipefail
rootfs=$1 name=$2 out=$3 config=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
blob() { # stdin -> blob; prints digest and size
  cat >"$work/blob.tmp"
  local digest size
  digest=$(sha256sum "$work/blob.tmp" | cut -d' ' -f1)
  size=$(stat -c %s "$work/blob.tmp")
  mv "$work/blob.tmp" "$work/blobs/sha256/$digest"
  echo "$digest $size"
}
# Numeric owners as they are on disk; sorted names and a fixed mtime so the same tree gives the same layer.
tar -C "$rootfs" --sort=name --numeric-owner --mtime=@0 -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
read -r layer layer_size < <(gzip -n -1 <"$work/layer.tar" | blob)
rm "$work/layer.tar"
read -r cfg cfg_size < <(printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$config" "$diff_id" | blob)
read -r manifest manifest_size < <(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' "$cfg" "$cfg_size" "$layer" "$layer_size" | blob)
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$name" "${name##*:}" >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
tar -C "$work" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
