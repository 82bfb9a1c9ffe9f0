#!/usr/bin/env bash
# One command from a fresh clone to a running Tandem at https://localhost:8443:
# installs what is missing, builds, makes a self-signed development certificate if there
# is none, and starts the server with its embedded defaults. Extra arguments go to tandem.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
if [ ! -f certs/dev-cert.pem ] || [ ! -f certs/dev-key.pem ]; then
  echo "Making a self-signed development certificate in certs/ (browsers will warn: fine for testing)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout certs/dev-key.pem -out certs/dev-cert.pem 2>/dev/null
  chmod 600 certs/dev-key.pem
fi
# Rooms are closed: people come in with invite links. Here is one for a coordinator, for a
# fresh room; in the room, the coordinator makes links for mentors and mentees. The link
# starts with the public address (--public-url, or server.public_url in --config), so the
# settings that make it are handed to `tandem invite` too.
invite_args=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --public-url | --config | --invite-key | --invite-ledger)
      if [ $((i + 1)) -lt ${#args[@]} ]; then invite_args+=("${args[i]}" "${args[i + 1]}"); fi ;;
    --public-url=* | --config=* | --invite-key=* | --invite-ledger=*) invite_args+=("${args[i]}") ;;
  esac
done
room=$(openssl rand -hex 8)
if ! link=$(build-release/tandem invite "${invite_args[@]}" --room "$room" --role coordinator --expires 7d); then
  echo "Could not make an invite link: check --public-url, --config and --invite-key (tandem invite --help)."
  exit 2
fi
echo "Starting Tandem at ${link%%/r/*} (Ctrl+C stops it)."
echo "Coordinator link for a new room (valid 7 days):"
echo "  $link"
echo "More links: build-release/tandem invite --room ROOM --role mentee|mentor|coordinator --expires 7d ${invite_args[*]}"
exec build-release/tandem "$@"
