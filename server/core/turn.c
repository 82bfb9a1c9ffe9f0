/* TURN URLs and TURN REST API credentials (tandem/turn.h, docs/turn.md). */
#include "tandem/turn.h"
#include "tandem/err.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int tdm_turn_url_check(const char *url, size_t len)
{
    const char *p = url, *end = url + len;
    if (len == 0 || len > TDM_TURN_URL_MAX || memchr(url, '\0', len))
        return TDM_EINVAL;
    if (len > 6 && memcmp(p, "turns:", 6) == 0)
        p += 6;
    else if (len > 5 && memcmp(p, "turn:", 5) == 0)
        p += 5;
    else
        return TDM_EINVAL;
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close == p + 1)
            return TDM_EINVAL;
        for (const char *q = p + 1; q < close; q++)
            if (!is_hex(*q) && *q != ':' && *q != '.')
                return TDM_EINVAL;
        p = close + 1;
    } else {
        /* DNS labels of letters, digits and '-', not starting or ending with '-' or '.' */
        const char *h = p;
        while (p < end && (is_alnum(*p) || *p == '.' || *p == '-')) {
            if ((*p == '.' || *p == '-') && (p == h || p[-1] == '.'))
                return TDM_EINVAL;
            if (*p == '.' && p[-1] == '-')
                return TDM_EINVAL;
            p++;
        }
        if (p == h || p[-1] == '-' || p[-1] == '.')
            return TDM_EINVAL;
    }
    if (p < end && *p == ':') {
        const char *d = ++p;
        unsigned long port = 0;
        while (p < end && *p >= '0' && *p <= '9' && p - d < 5)
            port = port * 10 + (unsigned long)(*p++ - '0');
        if (p == d || port == 0 || port > 65535)
            return TDM_EINVAL;
    }
    if (p == end)
        return 0;
    size_t rest = (size_t)(end - p);
    if ((rest == 14 && memcmp(p, "?transport=udp", 14) == 0) ||
        (rest == 14 && memcmp(p, "?transport=tcp", 14) == 0))
        return 0;
    return TDM_EINVAL;
}

int tdm_turn_parse_urls(const char *list, char out[TDM_TURN_MAX_URLS][TDM_TURN_URL_MAX + 1],
                        size_t *n, char *err, size_t errlen)
{
    *n = 0;
    const char *p = list;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return 0;
        size_t len = strcspn(p, ", \t");
        if (*n == TDM_TURN_MAX_URLS)
            return tdm_seterr(err, errlen, TDM_EINVAL, "turn.urls: at most %d URLs",
                              TDM_TURN_MAX_URLS);
        if (tdm_turn_url_check(p, len) != 0)
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "turn.urls: \"%.*s\" is not turn:host[:port] or "
                              "turns:host[:port] (optionally ?transport=udp or tcp)",
                              (int)(len > 60 ? 60 : len), p);
        memcpy(out[*n], p, len);
        out[*n][len] = '\0';
        (*n)++;
        p += len;
    }
}

int tdm_turn_secret_check(const char *secret, size_t len)
{
    if (len < TDM_TURN_SECRET_MIN || len > TDM_TURN_SECRET_MAX)
        return TDM_EINVAL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)secret[i] <= 0x20 || (unsigned char)secret[i] >= 0x7f)
            return TDM_EINVAL;
    return 0;
}

int tdm_turn_credential(const char *secret, size_t secret_len, uint64_t expiry,
                        const uint8_t id[TDM_TURN_ID_BYTES], char *username, size_t username_len,
                        char *credential, size_t credential_len)
{
    static const char hex[] = "0123456789abcdef";
    char idhex[2 * TDM_TURN_ID_BYTES + 1];
    for (size_t i = 0; i < TDM_TURN_ID_BYTES; i++) {
        idhex[2 * i] = hex[id[i] >> 4];
        idhex[2 * i + 1] = hex[id[i] & 15];
    }
    idhex[2 * TDM_TURN_ID_BYTES] = '\0';
    int n = snprintf(username, username_len, "%llu:%s", (unsigned long long)expiry, idhex);
    if (n < 0 || (size_t)n >= username_len || credential_len < TDM_TURN_CREDENTIAL_MAX)
        return TDM_ETOOBIG;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (secret_len > TDM_TURN_SECRET_MAX ||
        !HMAC(EVP_sha1(), secret, (int)secret_len, (const unsigned char *)username, (size_t)n, mac,
              &maclen) ||
        maclen != 20)
        return TDM_ECRYPTO;
    /* 20 bytes: 28 base64 characters with one '=' of padding, and the NUL */
    if (EVP_EncodeBlock((unsigned char *)credential, mac, 20) != 28)
        return TDM_ECRYPTO;
    return 0;
}
