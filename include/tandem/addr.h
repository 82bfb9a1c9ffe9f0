/* A transport address small enough to copy and hash on the packet path: IPv4 or IPv6,
 * port, and the transport (UDP, or TCP for RFC 6544 ICE-TCP) so that a UDP and a TCP
 * peer on the same ip:port are different keys. Plain value type, no ownership. */
#ifndef TANDEM_ADDR_H
#define TANDEM_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum tdm_addr_family {
    TDM_ADDR_NONE = 0,
    TDM_ADDR_V4 = 4,
    TDM_ADDR_V6 = 6,
};

enum tdm_addr_transport {
    TDM_ADDR_UDP = 0,
    TDM_ADDR_TCP = 1,
};

struct tdm_addr {
    uint8_t family;    /* enum tdm_addr_family */
    uint8_t transport; /* enum tdm_addr_transport */
    uint16_t port;     /* host byte order */
    uint8_t ip[16];    /* network byte order; IPv4 uses ip[0..4), the rest is zero */
};

/* Fill a from an AF_INET or AF_INET6 sockaddr (transport UDP). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) becomes plain IPv4, so a dual-stack socket and a v4 socket agree.
 * Returns 0, or TDM_EINVAL for another family or a short salen. */
int tdm_addr_from_sockaddr(struct tdm_addr *a, const struct sockaddr *sa, socklen_t salen);

/* Write a as a sockaddr_in/sockaddr_in6 into ss; *salen gets its length. Returns 0 or
 * TDM_EINVAL when a has no family. */
int tdm_addr_to_sockaddr(const struct tdm_addr *a, struct sockaddr_storage *ss, socklen_t *salen);

/* Set a to an IPv4 address given in host byte order (tests and tools). */
void tdm_addr_set_v4(struct tdm_addr *a, uint32_t ip_host, uint16_t port);
/* Set a to an IPv6 address (16 bytes, network order). */
void tdm_addr_set_v6(struct tdm_addr *a, const uint8_t ip[16], uint16_t port);

/* Family, transport, port and address all equal. */
bool tdm_addr_equal(const struct tdm_addr *a, const struct tdm_addr *b);

/* A seeded 32-bit hash of the address, for hash tables. Give each table a random seed so a
 * remote sender cannot pick addresses that collide. */
uint32_t tdm_addr_hash(const struct tdm_addr *a, uint64_t seed);

#endif
