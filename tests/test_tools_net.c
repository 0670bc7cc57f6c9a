/* SPDX-License-Identifier: MIT */
/*
 * "Beyond one host": bus A is carried to bus B over TCP on the loopback with
 * ffmpeg's own network protocol and a lossless codec, exactly as
 * docs/tools.md shows it, and the frames that come out of B hash the same as
 * the clip that went into A.
 *
 *   clip -> framebus put A
 *   framebus cat A --y4m | ffmpeg ... -c:v ffv1 -f nut tcp://127.0.0.1:PORT?listen
 *   ffmpeg -i tcp://127.0.0.1:PORT -f yuv4mpegpipe - | framebus put B --y4m
 *   framebus cat B --y4m | ffmpeg -f framemd5
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tools_util.h"
#include "testutil.h"

#define RUN_MS 90000

/* A TCP port free on the loopback right now (the kernel picks it). */
static int free_port(void)
{
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void test_loopback(void **state)
{
    char a[FBUS_NAME_MAX + 1], b[FBUS_NAME_MAX + 1];
    char *ref, *got;
    int nref, ngot, port;
    tt_result r;

    (void)state;
    if (!tt_have_ffmpeg())
        skip();
    tt_bus_name(a, sizeof(a), "ttnetA");
    tt_bus_name(b, sizeof(b), "ttnetB");
    port = free_port();
    assert_true(port > 0);

    tt_run(&r, RUN_MS,
           "ffmpeg -v error -y -f lavfi -i testsrc=size=97x61:rate=10 -frames:v 8 "
           "-pix_fmt yuv420p -f yuv4mpegpipe clip.y4m -frames:v 8 -pix_fmt yuv420p "
           "-f framemd5 ref.md5");
    assert_int_equal(r.status, 0);
    tt_free(&r);

    tt_run(&r, RUN_MS,
           /* This host: the clip into bus A, and A onto the network; the
            * sender listens, as in docs/tools.md. */
           "\"$FB\" put %s --y4m --wait-readers 1 < clip.y4m & pa=$!\n"
           "\"$FB\" cat %s --y4m --timeout 30 | ffmpeg -v error -f yuv4mpegpipe -i - "
           "-c:v ffv1 -f nut 'tcp://127.0.0.1:%d?listen' & send=$!\n"
           /* The other host: the network into bus B (the listener appears
            * once the first frame is encoded, so connect until it does). */
           "( for i in $(seq 100); do ffmpeg -v error -i tcp://127.0.0.1:%d "
           "-f yuv4mpegpipe - 2>/dev/null && exit 0; sleep 0.1; done; exit 1 ) | "
           "\"$FB\" put %s --y4m --wait-readers 1 & pb=$!\n"
           "\"$FB\" cat %s --y4m --timeout 30 | ffmpeg -v error -y -f yuv4mpegpipe -i - "
           "-f framemd5 got.md5; c=$?\n"
           "wait $pa; pa=$?; wait $send; send=$?; wait $pb; pb=$?\n"
           "echo \"putA=$pa send=$send putB=$pb catB=$c\"",
           a, a, port, port, b, b);
    assert_string_equal(r.out, "putA=0 send=0 putB=0 catB=0\n");
    assert_string_equal(r.err, "");
    tt_free(&r);

    ref = tt_md5_column("ref.md5", &nref);
    got = tt_md5_column("got.md5", &ngot);
    assert_non_null(ref);
    assert_non_null(got);
    assert_int_equal(nref, 8);
    assert_int_equal(ngot, 8);
    assert_string_equal(got, ref);
    free(ref);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_loopback, tt_test_cleanup),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
