#include "tandem/addr.h"
#include "tandem/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void tdm_addr_set_v4(struct tdm_addr *a, uint32_t ip_host, uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->family = TDM_ADDR_V4;
    a->transport = TDM_ADDR_UDP;
    a->port = port;
    a->ip[0] = (uint8_t)(ip_host >> 24);
    a->ip[1] = (uint8_t)(ip_host >> 16);
    a->ip[2] = (uint8_t)(ip_host >> 8);
    a->ip[3] = (uint8_t)ip_host;
}

void tdm_addr_set_v6(struct tdm_addr *a, const uint8_t ip[16], uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->family = TDM_ADDR_V6;
    a->transport = TDM_ADDR_UDP;
    a->port = port;
    memcpy(a->ip, ip, 16);
}

int tdm_addr_from_sockaddr(struct tdm_addr *a, const struct sockaddr *sa, socklen_t salen)
{
    if (!sa)
        return TDM_EINVAL;
    if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        tdm_addr_set_v4(a, ntohl(sin.sin_addr.s_addr), ntohs(sin.sin_port));
        return 0;
    }
    if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        const uint8_t *ip = sin6.sin6_addr.s6_addr;
        if (memcmp(ip, v4mapped_prefix, sizeof v4mapped_prefix) == 0) {
            uint32_t v4 =
                (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
            tdm_addr_set_v4(a, v4, ntohs(sin6.sin6_port));
        } else {
            tdm_addr_set_v6(a, ip, ntohs(sin6.sin6_port));
        }
        return 0;
    }
    return TDM_EINVAL;
}

int tdm_addr_to_sockaddr(const struct tdm_addr *a, struct sockaddr_storage *ss, socklen_t *salen)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == TDM_ADDR_V4) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a->port);
        memcpy(&sin.sin_addr.s_addr, a->ip, 4);
        memcpy(ss, &sin, sizeof sin);
        *salen = sizeof sin;
        return 0;
    }
    if (a->family == TDM_ADDR_V6) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(a->port);
        memcpy(sin6.sin6_addr.s6_addr, a->ip, 16);
        memcpy(ss, &sin6, sizeof sin6);
        *salen = sizeof sin6;
        return 0;
    }
    return TDM_EINVAL;
}

bool tdm_addr_equal(const struct tdm_addr *a, const struct tdm_addr *b)
{
    return a->family == b->family && a->transport == b->transport && a->port == b->port &&
           memcmp(a->ip, b->ip, 16) == 0;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Multiply-xorshift mixing (as in splitmix64) over the three words of the key. Not a
 * cryptographic PRF; the seed only keeps collisions from being chosen in advance, and the
 * tables using it hold authenticated addresses only. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return h;
}

uint32_t tdm_addr_hash(const struct tdm_addr *a, uint64_t seed)
{
    uint64_t tail = (uint64_t)a->family | (uint64_t)a->transport << 8 | (uint64_t)a->port << 16;
    uint64_t h = mix(seed, tail);
    h = mix(h, load64(a->ip));
    h = mix(h, load64(a->ip + 8));
    return (uint32_t)(h ^ (h >> 32));
}
