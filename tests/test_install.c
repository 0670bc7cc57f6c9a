/* SPDX-License-Identifier: MIT */
/*
 * `cmake --install` into a fresh prefix gives programs that run from there:
 * each finds the installed libframebus.so.0 through its RPATH, with no
 * LD_LIBRARY_PATH and nothing in ldconfig's cache, and says its version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_tools_util.h"

static void test_installed_programs_run(void **state)
{
    static const char *const progs[] = {"framebus", "framebus-producer", "framebus-viewer"};
    tt_result r;

    (void)state;
    /* DESTDIR keeps the parts with absolute destinations (the Python
     * module, the GStreamer plugin) inside the test's directory too. */
    tt_run(&r, 120000, "DESTDIR=\"$PWD/root\" cmake --install '%s' --prefix /opt/fb > install.log",
           FBUS_TEST_BINDIR);
    assert_int_equal(r.status, 0);
    tt_free(&r);
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        char want[64];

        tt_run(&r, 20000, "env -u LD_LIBRARY_PATH root/opt/fb/bin/%s --version", progs[i]);
        if (r.status != 0)
            print_message("%s: %s", progs[i], r.err);
        assert_int_equal(r.status, 0);
        snprintf(want, sizeof(want), "%s %d.", progs[i], 0);
        assert_memory_equal(r.out, want, strlen(want));
        tt_assert_contains(r.out, "(libframebus ");
        tt_free(&r);
        /* And it is the installed library it loaded. */
        tt_run(&r, 20000, "env -u LD_LIBRARY_PATH ldd root/opt/fb/bin/%s | grep libframebus",
               progs[i]);
        tt_assert_contains(r.out, "/root/opt/fb/bin/../lib/libframebus.so.0 (");
        tt_free(&r);
    }
}

static int setup(void **state)
{
    (void)state;
    return tt_setup();
}

static int teardown(void **state)
{
    (void)state;
    tt_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_installed_programs_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
