#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/room.h"

static void first_join_creates_last_leave_destroys(void **state)
{
    (void)state;
    struct tdm_rooms *rs = tdm_rooms_create(4, 3);
    struct tdm_participant *a, *b;
    assert_int_equal(tdm_rooms_join(rs, "room-1", "Amina", TDM_ROLE_MENTEE, NULL, &a), 0);
    assert_int_equal(tdm_rooms_count(rs), 1);
    assert_int_equal(tdm_rooms_join(rs, "room-1", "Jan", TDM_ROLE_MENTOR, NULL, &b), 0);
    assert_int_equal(tdm_rooms_count(rs), 1);
    struct tdm_room *r = tdm_rooms_find(rs, "room-1");
    assert_non_null(r);
    assert_int_equal(tdm_room_count(r), 2);
    assert_ptr_equal(tdm_room_participant(r, 0), a);
    assert_ptr_equal(tdm_room_participant(r, 1), b);
    assert_null(tdm_room_participant(r, 2));
    assert_ptr_equal(tdm_room_find(r, b->id), b);
    assert_false(tdm_rooms_leave(rs, a));
    assert_ptr_equal(tdm_room_participant(r, 0), b);
    assert_true(tdm_rooms_leave(rs, b));
    assert_int_equal(tdm_rooms_count(rs), 0);
    assert_null(tdm_rooms_find(rs, "room-1"));
    tdm_rooms_destroy(rs);
}

static void ids_are_random_and_unique(void **state)
{
    (void)state;
    struct tdm_rooms *rs = tdm_rooms_create(4, 10);
    struct tdm_participant *p[10];
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tdm_rooms_join(rs, "abc", "x", TDM_ROLE_MENTEE, NULL, &p[i]), 0);
        assert_int_equal(strlen(p[i]->id), TDM_PARTICIPANT_ID_LEN);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(p[i]->id, p[j]->id);
    }
    struct tdm_room *r = tdm_rooms_find(rs, "abc");
    assert_null(tdm_room_find(r, "short"));
    assert_null(tdm_room_find(r, "AAAAAAAAAAAAAAAAAAAAAA"));
    tdm_rooms_destroy(rs); /* frees the participants still there */
}

static void caps_are_enforced(void **state)
{
    (void)state;
    struct tdm_rooms *rs = tdm_rooms_create(2, 2);
    struct tdm_participant *p;
    assert_int_equal(tdm_rooms_join(rs, "r1", "a", TDM_ROLE_MENTEE, NULL, &p), TDM_EINVAL);
    assert_int_equal(tdm_rooms_join(rs, "r11", "a", TDM_ROLE_MENTEE, NULL, &p), 0);
    assert_int_equal(tdm_rooms_join(rs, "r11", "b", TDM_ROLE_MENTEE, NULL, &p), 0);
    assert_int_equal(tdm_rooms_join(rs, "r11", "c", TDM_ROLE_MENTEE, NULL, &p), TDM_EFULL);
    assert_null(p);
    assert_int_equal(tdm_rooms_join(rs, "r22", "a", TDM_ROLE_MENTEE, NULL, &p), 0);
    assert_int_equal(tdm_rooms_join(rs, "r33", "a", TDM_ROLE_MENTEE, NULL, &p), TDM_ELIMIT);
    assert_int_equal(tdm_rooms_count(rs), 2);
    tdm_rooms_destroy(rs);
}

static void ids_and_names_are_validated(void **state)
{
    (void)state;
    struct tdm_rooms *rs = tdm_rooms_create(8, 8);
    struct tdm_participant *p;
    const char *bad_rooms[] = {"",
                               "ab",
                               "a b c",
                               "../etc",
                               "room/1",
                               "r\xc3\xa9sum\xc3\xa9",
                               "0123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < sizeof bad_rooms / sizeof bad_rooms[0]; i++)
        assert_int_equal(tdm_rooms_join(rs, bad_rooms[i], "a", TDM_ROLE_MENTEE, NULL, &p),
                         TDM_EINVAL);
    const char *bad_names[] = {"",
                               " lead",
                               "trail ",
                               "tab\there",
                               "nl\nx",
                               "\xff\xfe",
                               "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_int_equal(tdm_rooms_join(rs, "room", bad_names[i], TDM_ROLE_MENTEE, NULL, &p),
                         TDM_EINVAL);
    assert_int_equal(tdm_rooms_count(rs), 0);
    assert_int_equal(tdm_rooms_join(rs, "room", "\xd8\xa3\xd9\x85\xd9\x8a\xd9\x86\xd8\xa9",
                                    TDM_ROLE_COORDINATOR, NULL, &p),
                     0);
    tdm_rooms_destroy(rs);
}

static void roles_parse(void **state)
{
    (void)state;
    enum tdm_role r;
    assert_int_equal(tdm_role_parse("mentor", 6, &r), 0);
    assert_int_equal(r, TDM_ROLE_MENTOR);
    assert_int_equal(tdm_role_parse("coordinator", 11, &r), 0);
    assert_int_equal(tdm_role_parse("admin", 5, &r), TDM_EINVAL);
    assert_int_equal(tdm_role_parse("mentors", 7, &r), TDM_EINVAL);
    assert_int_equal(tdm_role_parse("ment", 4, &r), TDM_EINVAL);
    assert_string_equal(tdm_role_name(TDM_ROLE_MENTEE), "mentee");
}

static void many_rooms_hash_chains(void **state)
{
    (void)state;
    struct tdm_rooms *rs = tdm_rooms_create(300, 1);
    struct tdm_participant *ps[300];
    char id[16];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "room%03d", i);
        assert_int_equal(tdm_rooms_join(rs, id, "n", TDM_ROLE_MENTEE, NULL, &ps[i]), 0);
    }
    for (int i = 0; i < 300; i += 2)
        assert_true(tdm_rooms_leave(rs, ps[i]));
    for (int i = 1; i < 300; i += 2) {
        snprintf(id, sizeof id, "room%03d", i);
        assert_non_null(tdm_rooms_find(rs, id));
    }
    assert_int_equal(tdm_rooms_count(rs), 150);
    tdm_rooms_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_join_creates_last_leave_destroys),
        cmocka_unit_test(ids_are_random_and_unique),
        cmocka_unit_test(caps_are_enforced),
        cmocka_unit_test(ids_and_names_are_validated),
        cmocka_unit_test(roles_parse),
        cmocka_unit_test(many_rooms_hash_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
