#!/usr/bin/env bash
# Installs what Tandem needs on Debian 12, only what is missing.
#   scripts/install-deps.sh build   compiler, CMake and the libraries (to build and run)
#   scripts/install-deps.sh test    the above, plus cmocka, browsers, Node.js, test tools
set -euo pipefail
what=${1:-build}

build_pkgs=(build-essential cmake pkg-config openssl ca-certificates
  libwebsockets-dev libwebsockets-evlib-glib libnice-dev libsrtp2-dev libopus-dev
  libssl-dev libjansson-dev libglib2.0-dev)
test_pkgs=(libcmocka-dev chromium firefox-esr iproute2 nftables ffmpeg clang libclang-rt-14-dev
  valgrind clang-format)

pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")
# Node.js: use the one on the machine if there is one, else Debian's.
command -v node >/dev/null 2>&1 || { [ "$what" = test ] && pkgs+=(nodejs npm); }

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
