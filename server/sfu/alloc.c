/* placeholder replaced below */
#include "sfu_internal.h"
void alloc_tick(struct tdm_sfu *s, struct part *q, int64_t now)
{
    (void)s;
    (void)q;
    (void)now;
}
int64_t alloc_deadline(const struct part *q)
{
    (void)q;
    return INT64_MAX;
}
void alloc_on_report(struct tdm_sfu *s, struct cons *c, uint8_t f, int64_t now)
{
    (void)s;
    (void)c;
    (void)f;
    (void)now;
}
