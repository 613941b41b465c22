#!/usr/bin/env bash
# Builds kube-apiserver 1.20.2 from Debian's kubernetes source package (scripts/k8s/build-k8s.sh, cached
# outside the repository) and makes sure etcd and openssl, which the tests run next to it, are there.
#   scripts/k8s/build-apiserver.sh                      # ~7 minutes the first time on 2 cores, then instant
#   KEYLEASE_K8S_CACHE=/some/dir scripts/k8s/build-apiserver.sh
# The last line on stdout is the binary's path; progress and timings go to stderr.
set -euo pipefail
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
missing=()
for pkg in etcd-server openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "build-apiserver: apt-get install ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi
exec bash "$(dirname "$0")/build-k8s.sh" kube-apiserver
