#!/bin/bash
# Makes a local Debian 12 base image, tandem-base/debian:bookworm-slim, from Debian's own
# mirror with debootstrap, for machines that can reach Debian but not Docker Hub. It is
# trimmed like the official slim image (no documentation, manual pages or locales, and dpkg
# told to keep them out). Then set BASE_IMAGE=tandem-base/debian:bookworm-slim in docker/.env.
#   usage (as root): docker/make-base.sh [MIRROR]
set -euo pipefail
mirror=${1:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
work=$(mktemp -d /var/tmp/tandem-base.XXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/debootstrap.log"
root=$work/root
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/*.log "$root"/var/log/apt/*
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
rm -f "$root/etc/apt/sources.list"
tar -C "$root" -c . | docker import - tandem-base/debian:bookworm-slim
docker image ls tandem-base/debian:bookworm-slim
