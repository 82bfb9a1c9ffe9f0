/* Memory per subscriber, through the real SFU core: one page publishes audio and video,
 * N others (audio only) subscribe, in the network simulator; the heap in use (mallinfo2:
 * small blocks and mmapped ones) is
 * read after the call settled, for N = 10 and N = 30. The difference divided by 20 is what
 * one more subscriber costs: its consumer of the video, of every other microphone, and the
 * simulated page's own buffers (the same in every build, so two builds compare by their
 * difference). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

static size_t heap_with(int n)
{
    struct sim *s = sim_create(5);
    if (!s)
        exit(1);
    struct sim_peer *a = sim_peer_add(s, "r", "publisher");
    const struct sim_link lan = {.delay_us = 5000};
    sim_peer_set_links(a, &lan, &lan);
    sim_peer_publish(a, true, true, 600000);
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "sub%d", i);
        struct sim_peer *p = sim_peer_add(s, "r", name);
        sim_peer_set_links(p, &lan, &lan);
        sim_peer_publish(p, true, false, 0); /* a microphone: a page that publishes receives */
    }
    if (sim_run_until(s, 5000000) != 0)
        exit(1);
    malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    size_t used = mi.uordblks + mi.hblkhd; /* large blocks are mmapped: counted apart */
    sim_destroy(s);
    return used;
}

int main(void)
{
    size_t a = heap_with(10), b = heap_with(30);
    printf("heap in use: %zu KB with 10 subscribers, %zu KB with 30: %zu KB per subscriber\n",
           a / 1024, b / 1024, (b - a) / 20 / 1024);
    return 0;
}
