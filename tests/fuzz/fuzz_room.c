/* libFuzzer target: the signaling handlers driving a real room, stateful (room_harness.h).
 *
 * Input: a sequence of steps. After a coordinator, a mentor and a mentee join room-0 and a
 * mentee and a coordinator join room-1, each step picks an operation (join with a valid,
 * foreign, made or bad token; leave; ping; every mod.*; invite.create / revoke; chat.*;
 * sync.*; media messages; a raw frame; a disconnect; completing pending closes; a timer
 * tick), a connection (eight, joined or not, also ones on their way out) and its fields,
 * naming live and stale participant, lobby, invite, chat and upload ids.
 *
 * Invariants after every step (rh_check): no participant without a registered room, no
 * connection whose participant points at an absent room, room counts equal the connections
 * pointing at them and no empty room, lobby entries only for existing rooms and with unique
 * ids, closed connections hold nothing; at the end every room is gone once every connection
 * closed. Use after free, leaks and undefined behaviour are ASan's, LSan's and UBSan's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "room_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rh_harness *h = rh_create();
    if (!h)
        abort();
    if (rh_populate(h) != 0 || rh_run(h, data, size) != 0) {
        fprintf(stderr, "invariant failed: %s\n", rh_failure(h));
        abort();
    }
    if (rh_destroy(h) != 0) {
        fprintf(stderr, "invariant failed at the end\n");
        abort();
    }
    return 0;
}
