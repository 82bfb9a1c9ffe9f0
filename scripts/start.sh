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
# Rooms are closed: people come in with invite links, which a coordinator makes in the
# console (a page in the browser). The console link is made once, kept in certs/console.link
# (readable by you only; it is a key to the console) and shown at every start. It starts with
# the public address (--public-url, or server.public_url in --config), so the settings that
# make it are handed to `tandem console-link` too. To replace it: withdraw it with
# `tandem console-link --revoke ID` and delete certs/console.link.
link_args=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --public-url | --config | --invite-key | --invite-ledger)
      if [ $((i + 1)) -lt ${#args[@]} ]; then link_args+=("${args[i]}" "${args[i + 1]}"); fi ;;
    --public-url=* | --config=* | --invite-key=* | --invite-ledger=*) link_args+=("${args[i]}") ;;
  esac
done
if [ ! -s certs/console.link ]; then
  if ! link=$(build-release/tandem console-link "${link_args[@]}" --expires 365d); then
    echo "Could not make a console link: check --public-url, --config and --invite-key (tandem --help)."
    exit 2
  fi
  (umask 077 && printf '%s\n' "$link" >certs/console.link)
fi
link=$(head -n 1 certs/console.link)
# The link was made once, for the address of that day: a --public-url or --port given now wins
# (the part after the address, the console key, stays the same).
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --public-url) [ $((i + 1)) -lt ${#args[@]} ] && link="${args[i + 1]%/}/console${link#*/console}" ;;
    --public-url=*) v="${args[i]#--public-url=}"; link="${v%/}/console${link#*/console}" ;;
    --port) [ $((i + 1)) -lt ${#args[@]} ] && port_arg="${args[i + 1]}" ;;
    --port=*) port_arg="${args[i]#--port=}" ;;
  esac
done
if [ -n "${port_arg:-}" ] && [[ "$link" == https://localhost:* ]]; then
  link="https://localhost:${port_arg}/console${link#*/console}"
fi
echo "Starting Tandem at ${link%%/console*} (Ctrl+C stops it)."
echo "Coordinator console (make rooms and invite links here; keep this link private):"
echo "  $link"
echo "Links from the shell: build-release/tandem invite --room ROOM --role mentee|mentor|coordinator --expires 7d ${link_args[*]}"
exec build-release/tandem "$@"
