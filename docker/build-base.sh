#!/usr/bin/env bash
# Build (or reuse) the base image labchain/base:<tag> that the node and lab images start FROM.
#
# Docker Hub is not reachable from our machines, so by default the base is a minimal Debian
# root file system made with debootstrap from a Debian mirror and turned into an image with
# `docker import`. Where a registry *is* reachable, BASE_IMAGE=python:3.11-slim (or any image
# with python3 and the venv module) is simply re-tagged instead.
#
# Environment (all optional):
#   BASE_TAG       tag to produce                  (default: labchain/base:<labchain version>)
#   BASE_IMAGE     use this image instead of debootstrap (it must already be pulled or pullable)
#   DEBIAN_MIRROR  Debian mirror URL               (default: the first mirror apt on this host uses)
#   DEBIAN_SUITE   Debian release                  (default: bookworm -> python 3.11)
#   REBUILD_BASE=1 rebuild even if BASE_TAG already exists
#
# The python3 of the base must match the Python version the wheelhouse is built for
# (labchain/deploy/images.py reads it from the image and checks).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/pyproject.toml" | head -n1)"
BASE_TAG="${BASE_TAG:-labchain/base:${version:-dev}}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"

log() { echo "[build-base] $*"; }

if [ "${REBUILD_BASE:-0}" != 1 ] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    log "reusing cached $BASE_TAG"
    exit 0
fi

if [ -n "${BASE_IMAGE:-}" ]; then
    if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "pulling $BASE_IMAGE"
        docker pull "$BASE_IMAGE"
    fi
    docker tag "$BASE_IMAGE" "$BASE_TAG"
    log "tagged $BASE_IMAGE as $BASE_TAG"
    exit 0
fi

default_mirror() {
    # deb822 sources first (Debian 12 default), then the classic one-line format.
    local uri=""
    if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        uri="$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources \
               | grep -v -e security -e '^https\?://[^/]*/debian-security' | head -n1)"
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
               /etc/apt/sources.list)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}
DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(default_mirror)}"

if [ "$(id -u)" != 0 ]; then
    echo "build-base: debootstrap needs root (or set BASE_IMAGE=...)" >&2
    exit 1
fi
command -v debootstrap >/dev/null || { echo "build-base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

work="$(mktemp -d /var/tmp/labchain-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

# python3-venv brings ensurepip's bundled pip wheel: images make a venv and install from the
# wheelhouse with it, so no pip/setuptools/compiler from Debian ends up in the images.
log "debootstrap --variant=minbase $DEBIAN_SUITE from $DEBIAN_MIRROR (a few minutes)"
debootstrap --variant=minbase --include=python3,python3-venv \
    "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" > "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    echo "build-base: debootstrap failed (mirror: $DEBIAN_MIRROR)" >&2
    exit 1
}

log "trimming the root file system"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
       "$rootfs"/tmp/* "$rootfs"/root/.cache
# the image gets its resolv.conf/hosts from docker at run time
: > "$rootfs/etc/resolv.conf"
py="$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

log "docker import -> $BASE_TAG (python $py)"
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.labchain.base.suite=$DEBIAN_SUITE org.labchain.base.python=$py" \
    - "$BASE_TAG" >/dev/null
log "done: $(docker image inspect -f '{{.Size}}' "$BASE_TAG" | awk '{printf "%.0f MB", $1/1e6}')"
