#!/bin/bash
# The container's entry point: writes Tandem's configuration from the environment
# (docker/.env, see .env.example) and starts it; `health` checks a running one.
set -euo pipefail
conf=/run/tandem/tandem.conf
metrics="${TANDEM_METRICS_LISTEN-127.0.0.1:9464}"

if [ "${1:-}" = health ]; then
  # One scrape of the metrics endpoint, with bash's own /dev/tcp (no curl in the image).
  [ -n "$metrics" ] || exit 0
  host=${metrics%:*} port=${metrics##*:}
  host=${host#[} && host=${host%]}
  exec 3<>"/dev/tcp/${host}/${port}"
  printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
  IFS= read -r -t 4 status <&3
  [[ "$status" == *" 200 "* ]]
  exit
fi

: "${TANDEM_DOMAIN:?set TANDEM_DOMAIN in docker/.env (the name people open)}"
port="${TANDEM_PORT:-443}"
base="https://${TANDEM_DOMAIN}"
[ "$port" = 443 ] || base="${base}:${port}"
umask 077
{
  echo "[server]"
  echo "public_url = ${TANDEM_PUBLIC_URL:-$base}"
  echo "port = ${port}"
  [ -z "${TANDEM_LISTEN:-}" ] || echo "listen = ${TANDEM_LISTEN}"
  echo "cert = ${TANDEM_CERT:-/etc/tandem/tls/fullchain.pem}"
  echo "key = ${TANDEM_KEY:-/etc/tandem/tls/privkey.pem}"
  echo "web_root = /usr/local/share/tandem/web"
  [ -z "${TANDEM_PUBLIC_IP:-}" ] || echo "public_ip = ${TANDEM_PUBLIC_IP}"
  [ -z "${TANDEM_MEDIA_ADDRESSES:-}" ] || echo "media_addresses = ${TANDEM_MEDIA_ADDRESSES}"
  echo "log_level = ${TANDEM_LOG_LEVEL:-info}"
  echo "[media]"
  echo "port_base = ${TANDEM_MEDIA_PORT_BASE:-10000}"
  echo "workers = ${TANDEM_MEDIA_WORKERS:-2}"
  echo "[invites]"
  echo "key_file = /var/lib/tandem/invite.key"
  echo "ledger_file = /var/lib/tandem/invite.ledger"
  echo "[metrics]"
  echo "listen = ${metrics}"
} >"$conf"
if [ -n "${TURN_SECRET:-}" ] && [ -n "${TURN_DOMAIN:-}" ]; then
  printf '%s\n' "$TURN_SECRET" >/run/tandem/turn.secret
  {
    echo "[turn]"
    echo "urls = ${TURN_URLS:-turns:${TURN_DOMAIN}:443?transport=tcp}"
    echo "secret_file = /run/tandem/turn.secret"
  } >>"$conf"
fi
# Several nodes on one Redis (docs/deploy.md "Several machines"): off unless TANDEM_CLUSTER_REDIS.
if [ -n "${TANDEM_CLUSTER_REDIS:-}" ]; then
  : "${TANDEM_NODE_URL:?set TANDEM_NODE_URL (this node's own https address) with TANDEM_CLUSTER_REDIS}"
  {
    echo "[cluster]"
    echo "redis = ${TANDEM_CLUSTER_REDIS}"
    echo "node_url = ${TANDEM_NODE_URL}"
    if [ -n "${TANDEM_REDIS_PASSWORD:-}" ]; then
      printf '%s\n' "$TANDEM_REDIS_PASSWORD" >/run/tandem/redis.password
      echo "password_file = /run/tandem/redis.password"
    fi
  } >>"$conf"
fi
case "${1:-}" in
  "") ;;
  check) exec /usr/local/bin/tandem --config "$conf" --check-config ;;
  invite | console-link) exec /usr/local/bin/tandem "$@" --config "$conf" ;;
  *) exec "$@" ;;
esac
/usr/local/bin/tandem --config "$conf" --check-config >&2 || exit $?
exec /usr/local/bin/tandem --config "$conf"
