#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/webpath.h"

static enum tdm_route route(const char *path, char *rel)
{
    return tdm_webpath_route(path, strlen(path), rel, TDM_WEBPATH_MAX);
}

static void routes_pages(void **state)
{
    (void)state;
    char rel[TDM_WEBPATH_MAX];
    assert_int_equal(route("/", rel), TDM_ROUTE_FILE);
    assert_string_equal(rel, "index.html");
    assert_int_equal(route("/r/k3Jd9s-aQ2", rel), TDM_ROUTE_ROOM);
    assert_string_equal(rel, "room.html");
    assert_int_equal(route("/ws", rel), TDM_ROUTE_WEBSOCKET);
    assert_int_equal(route("/console", rel), TDM_ROUTE_FILE);
    assert_string_equal(rel, "console.html");
    assert_int_equal(route("/js/room.mjs", rel), TDM_ROUTE_FILE);
    assert_string_equal(rel, "js/room.mjs");
    assert_int_equal(route("/i18n/ar.json", rel), TDM_ROUTE_FILE);
}

static void refuses_traversal_and_odd_paths(void **state)
{
    (void)state;
    char rel[TDM_WEBPATH_MAX];
    const char *bad[] = {"",
                         "js/room.mjs",
                         "/../etc/passwd",
                         "/js/../../x.html",
                         "/.git/config",
                         "/js//room.mjs",
                         "/js/",
                         "/js",
                         "/r/",
                         "/r/a",
                         "/r/a/b",
                         "/r/../../x",
                         "/room%2ehtml",
                         "/x.html\\y",
                         "/server.c",
                         "/README",
                         "/js/.hidden.js",
                         "/x.html?y",
                         "/\xc3\xa9.html",
                         "/a b.html"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(route(bad[i], rel), TDM_ROUTE_NOT_FOUND);
    char longp[400];
    memset(longp, 'a', sizeof longp);
    longp[0] = '/';
    memcpy(longp + sizeof longp - 6, ".html", 6);
    assert_int_equal(route(longp, rel), TDM_ROUTE_NOT_FOUND);
    char small[4];
    assert_int_equal(tdm_webpath_route("/js/room.mjs", 12, small, sizeof small),
                     TDM_ROUTE_NOT_FOUND);
}

static void mime_types(void **state)
{
    (void)state;
    assert_string_equal(tdm_webpath_mime("a.mjs"), "text/javascript; charset=utf-8");
    assert_string_equal(tdm_webpath_mime("x/y.webp"), "image/webp");
    assert_null(tdm_webpath_mime("a.exe"));
    assert_null(tdm_webpath_mime("noext"));
    assert_null(tdm_webpath_mime("dir.html/x"));
}

static void ranges(void **state)
{
    (void)state;
    uint64_t a, b;
#define R(s, size) tdm_webpath_range(s, strlen(s), size, &a, &b)
    assert_int_equal(R("bytes=0-99", 1000), 0);
    assert_true(a == 0 && b == 99);
    assert_int_equal(R("bytes=500-", 1000), 0);
    assert_true(a == 500 && b == 999);
    assert_int_equal(R("bytes=-100", 1000), 0);
    assert_true(a == 900 && b == 999);
    assert_int_equal(R("bytes=-5000", 1000), 0);
    assert_true(a == 0 && b == 999);
    assert_int_equal(R("bytes=900-5000", 1000), 0);
    assert_true(a == 900 && b == 999);
    assert_int_equal(R("bytes=1000-", 1000), TDM_EINVAL);
    assert_int_equal(R("bytes=-0", 1000), TDM_EINVAL);
    assert_int_equal(R("bytes=0-1,5-6", 1000), TDM_EUNSUPP);
    assert_int_equal(R("bytes=5-1", 1000), TDM_EUNSUPP);
    assert_int_equal(R("items=0-1", 1000), TDM_EUNSUPP);
    assert_int_equal(R("bytes=99999999999999999999-", 1000), TDM_EUNSUPP);
    assert_int_equal(R("bytes=a-b", 1000), TDM_EUNSUPP);
    assert_int_equal(R("bytes=", 1000), TDM_EUNSUPP);
#undef R
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_pages),
        cmocka_unit_test(refuses_traversal_and_odd_paths),
        cmocka_unit_test(mime_types),
        cmocka_unit_test(ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
