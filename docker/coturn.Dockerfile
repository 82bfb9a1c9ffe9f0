# coturn from Debian's own package, for TURN over TLS on 443 beside Tandem (docs/turn.md).
# It starts as root only to bind 443, then runs as the turnserver user (proc-user); compose
# drops every capability but the three this needs.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends coturn \
      >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
COPY docker/coturn-entrypoint.sh /usr/local/bin/coturn-entrypoint
EXPOSE 443/tcp
ENTRYPOINT ["/usr/local/bin/coturn-entrypoint"]
