#!/bin/bash
# Writes coturn's configuration from the environment (docker/.env) as docs/turn.md has it:
# TLS only, the TURN REST API secret shared with Tandem, no relaying into private or loopback
# ranges, quotas, no per-session log lines, and starts it.
set -euo pipefail
: "${TURN_DOMAIN:?set TURN_DOMAIN in docker/.env}"
: "${TURN_SECRET:?set TURN_SECRET in docker/.env (the same value Tandem gets)}"
: "${TURN_LISTEN_IP:?set TURN_LISTEN_IP in docker/.env (the address coturn has to itself)}"
conf=/run/coturn/turnserver.conf
umask 077
{
  echo "listening-ip=${TURN_LISTEN_IP}"
  echo "relay-ip=${TURN_RELAY_IP:-$TURN_LISTEN_IP}"
  [ -z "${TURN_EXTERNAL_IP:-}" ] || echo "external-ip=${TURN_EXTERNAL_IP}"
  echo "tls-listening-port=${TURN_PORT:-443}"
  echo "min-port=${TURN_MIN_PORT:-49152}"
  echo "max-port=${TURN_MAX_PORT:-49999}"
  echo "no-udp"
  echo "no-tcp"
  echo "no-dtls"
  echo "cert=${TURN_CERT:-/etc/coturn/tls/fullchain.pem}"
  echo "pkey=${TURN_KEY:-/etc/coturn/tls/privkey.pem}"
  echo "realm=${TURN_DOMAIN}"
  echo "use-auth-secret"
  echo "static-auth-secret=${TURN_SECRET}"
  echo "fingerprint"
  echo "no-cli"
  echo "no-multicast-peers"
  echo "no-software-attribute"
  for r in 0.0.0.0-0.255.255.255 10.0.0.0-10.255.255.255 100.64.0.0-100.127.255.255 \
    127.0.0.0-127.255.255.255 169.254.0.0-169.254.255.255 172.16.0.0-172.31.255.255 \
    192.168.0.0-192.168.255.255 198.18.0.0-198.19.255.255 ::1 \
    fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff; do
    echo "denied-peer-ip=$r"
  done
  [ -z "${TURN_ALLOWED_PEER_IP:-}" ] || echo "allowed-peer-ip=${TURN_ALLOWED_PEER_IP}"
  echo "user-quota=${TURN_USER_QUOTA:-12}"
  echo "total-quota=${TURN_TOTAL_QUOTA:-1200}"
  echo "max-bps=${TURN_MAX_BPS:-3000000}"
  echo "log-file=stdout"
  echo "simple-log"
  echo "proc-user=turnserver"
  echo "proc-group=turnserver"
} >"$conf"
exec turnserver -c "$conf" "$@"
