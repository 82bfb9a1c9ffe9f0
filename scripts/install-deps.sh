#!/usr/bin/env bash
# Installs what Tandem needs on Debian 12, only what is missing.
#   scripts/install-deps.sh build   compiler, CMake and the libraries (to build and run)
#   scripts/install-deps.sh test    the above, plus cmocka, browsers, Node.js, test tools
set -euo pipefail
what=${1:-build}

build_pkgs=(build-essential cmake pkg-config openssl ca-certificates
  libwebsockets-dev libwebsockets-evlib-glib libnice-dev libsrtp2-dev libopus-dev
  libssl-dev libjansson-dev libglib2.0-dev libhiredis-dev)
# fonts-sil-abyssinica: Ethiopic letters, so that page screenshots show Tigrinya (not boxes).
# espeak-ng: speech for the fake microphones (tests/lib/voicewav.mjs).
# xvfb: a virtual X screen for a Firefox that shares its screen (headless it has none).
test_pkgs=(libcmocka-dev chromium firefox-esr iproute2 nftables ffmpeg clang libclang-rt-14-dev coturn
  valgrind clang-format fonts-sil-abyssinica redis-server espeak-ng xvfb)

pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")
# Node.js for the tests: the one on the machine if it is new enough (package.json "engines":
# 18 or later), else Debian's (18 on Debian 12). npm comes separately in Debian: a node without
# npm gets Debian's npm.
if [ "$what" = test ]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 18 ]; then
    if command -v node >/dev/null 2>&1 && ! dpkg -S "$(command -v node)" >/dev/null 2>&1; then
      echo "The tests need Node.js 18 or later; $(command -v node) is $(node --version) and not from Debian." >&2
      echo "Remove it or put a newer one first in PATH (Debian 12's package nodejs is 18)." >&2
      exit 1
    fi
    pkgs+=(nodejs npm)
  elif ! command -v npm >/dev/null 2>&1; then
    pkgs+=(npm)
  fi
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
