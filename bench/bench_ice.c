/* ICE-lite figures: cost of answering one connectivity check (parse, HMAC-SHA1 verify,
 * CRC-32, build a response with MI and FINGERPRINT) and of finding a session by source
 * address for a media packet, with many sessions in one table. */
#include <stdio.h>
#include <string.h>

#include "tandem/ice.h"
#include "tandem/stun.h"
#include "tandem/util.h"

#define SESSIONS 2000
#define ROUNDS 200

int main(void)
{
    struct tdm_ice_table *t = tdm_ice_table_create(SESSIONS);
    static uint8_t req[SESSIONS][160];
    static size_t req_len[SESSIONS];
    static struct tdm_addr addr[SESSIONS];
    if (!t)
        return 1;
    for (uint32_t i = 0; i < SESSIONS; i++) {
        uint64_t id;
        struct tdm_ice_creds c;
        char user[64];
        uint8_t tid[12] = {(uint8_t)i, (uint8_t)(i >> 8)};
        if (tdm_ice_session_add(t, 0, i, &id) || tdm_ice_session_local_creds(t, id, &c))
            return 1;
        snprintf(user, sizeof user, "%s:Brws", c.ufrag);
        struct tdm_stun_request r = {.tid = tid,
                                     .username = user,
                                     .username_len = strlen(user),
                                     .key = c.pwd,
                                     .keylen = strlen(c.pwd),
                                     .priority = 0x6e7f00ff,
                                     .use_candidate = true,
                                     .role = TDM_STUN_ROLE_CONTROLLING,
                                     .tiebreaker = i};
        int n = tdm_stun_build_binding_request(req[i], sizeof req[i], &r);
        if (n < 0)
            return 1;
        req_len[i] = (size_t)n;
        tdm_addr_set_v4(&addr[i], 0xC6120000u + (i >> 12), (uint16_t)(10000 + i));
    }
    uint8_t out[128];
    size_t out_len;
    uint64_t sid, user;
    enum tdm_ice_event ev;
    int ok = 0;
    int64_t t0 = tdm_now_us();
    for (int r = 0; r < ROUNDS; r++)
        for (uint32_t i = 0; i < SESSIONS; i++)
            ok += tdm_ice_handle_stun(t, req[i], req_len[i], &addr[i], 1000 + r, out, sizeof out,
                                      &out_len, &sid, &ev) == 0;
    int64_t t1 = tdm_now_us();
    int found = 0;
    for (int r = 0; r < ROUNDS * 10; r++)
        for (uint32_t i = 0; i < SESSIONS; i++)
            found += tdm_ice_lookup_addr(t, &addr[i], &sid, &user) == 0 && user == i;
    int64_t t2 = tdm_now_us();
    double checks = (double)ROUNDS * SESSIONS, lookups = checks * 10;
    printf("ice: %d sessions, %d/%.0f checks answered: %.0f ns per check (%.0f checks/s)\n",
           SESSIONS, ok, checks, (double)(t1 - t0) * 1000 / checks,
           checks * 1e6 / (double)(t1 - t0));
    printf("ice: %d/%.0f address lookups: %.1f ns per lookup\n", found, lookups,
           (double)(t2 - t1) * 1000 / lookups);
    tdm_ice_table_destroy(t);
    return ok == (int)checks && found == (int)lookups ? 0 : 1;
}
