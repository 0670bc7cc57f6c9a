/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the framebus command tests; see test_tools_util.h.
 */
#include "test_tools_util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "framebus/framebus.h"
#include "testutil.h"

static char dir[64];

int tt_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/fbus-tools-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

void tt_teardown(void)
{
    tt_result r;

    if (!dir[0])
        return;
    tt_run(&r, 10000, "rm -rf '%s'", dir);
    tt_free(&r);
    dir[0] = '\0';
}

const char *tt_dir(void)
{
    return dir;
}

const char *tt_framebus(void)
{
    return FBUS_TEST_BINDIR "/tools/framebus";
}

int tt_have_ffmpeg(void)
{
    tt_result r;
    int ok = tt_run(&r, 10000, "ffmpeg -version >/dev/null 2>&1") == 0;

    tt_free(&r);
    return ok;
}

struct sink {
    int fd;
    char *buf;
    size_t len, cap;
};

static void drain(struct sink *s)
{
    char tmp[4096];
    ssize_t n = read(s->fd, tmp, sizeof(tmp));

    if (n <= 0) {
        close(s->fd);
        s->fd = -1;
        return;
    }
    if (s->len + (size_t)n + 1 > s->cap) {
        size_t cap = (s->len + (size_t)n + 1) * 2;
        char *p = realloc(s->buf, cap);
        if (!p)
            abort();
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, tmp, (size_t)n);
    s->len += (size_t)n;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tt_run(tt_result *r, int timeout_ms, const char *fmt, ...)
{
    struct sink s[2] = {{-1, NULL, 0, 0}, {-1, NULL, 0, 0}};
    int outp[2], errp[2], wstatus = 0, done = 0;
    int64_t deadline = now_ms() + timeout_ms;
    char *cmd = NULL;
    va_list ap;
    pid_t pid;

    memset(r, 0, sizeof(*r));
    r->status = -1;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        cmd = NULL;
    va_end(ap);
    if (!cmd || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
        abort();

    pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        dup2(devnull, 0);
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        if (dir[0] && chdir(dir) < 0)
            _exit(126);
        setenv("FB", tt_framebus(), 1);
        setenv("AV_LOG_FORCE_NOCOLOR", "1", 1);
        execl("/bin/bash", "bash", "-c",
              "set -o pipefail\n"
              "eval \"$0\"",
              cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    close(outp[1]);
    close(errp[1]);
    s[0].fd = outp[0];
    s[1].fd = errp[0];

    while (!done || s[0].fd >= 0 || s[1].fd >= 0) {
        struct pollfd pfd[2];
        int64_t left = deadline - now_ms();
        nfds_t n = 0;

        if (left <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (s[i].fd >= 0) {
                pfd[n].fd = s[i].fd;
                pfd[n].events = POLLIN;
                n++;
            }
        }
        if (n == 0) {
            /* Output closed: wait for the shell itself. */
            if (waitpid(pid, &wstatus, WNOHANG) == pid)
                done = 1;
            else
                poll(NULL, 0, 5);
            continue;
        }
        if (poll(pfd, n, left > 100 ? 100 : (int)left) > 0) {
            for (nfds_t k = 0; k < n; k++) {
                if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                for (int i = 0; i < 2; i++) {
                    if (s[i].fd == pfd[k].fd)
                        drain(&s[i]);
                }
            }
        }
        if (!done && waitpid(pid, &wstatus, WNOHANG) == pid)
            done = 1;
    }
    /* Whatever the command left behind (background jobs) goes too. */
    kill(-pid, SIGKILL);
    if (!done) {
        waitpid(pid, &wstatus, 0);
        r->status = -1;
    } else if (WIFEXITED(wstatus)) {
        r->status = WEXITSTATUS(wstatus);
    } else {
        r->status = 128 + WTERMSIG(wstatus);
    }
    for (int i = 0; i < 2; i++) {
        if (s[i].fd >= 0)
            close(s[i].fd);
        if (!s[i].buf)
            s[i].buf = calloc(1, 1);
        else
            s[i].buf[s[i].len] = '\0';
    }
    r->out = s[0].buf;
    r->err = s[1].buf;
    if (r->status != 0 && getenv("TT_VERBOSE"))
        fprintf(stderr, "command: %s\nstatus %d\nstdout: %s\nstderr: %s\n", cmd, r->status, r->out,
                r->err);
    free(cmd);
    return r->status;
}

void tt_free(tt_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *tt_read(const char *name, size_t *len)
{
    char path[256];
    FILE *f;
    char *buf = NULL;
    size_t n = 0, cap = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *tt_md5_column(const char *name, int *count)
{
    char *text = tt_read(name, NULL), *out, *line, *save = NULL;
    size_t n = 0;

    *count = 0;
    if (!text)
        return NULL;
    out = calloc(1, strlen(text) + 1);
    if (!out)
        abort();
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strrchr(line, ',');

        if (line[0] == '#' || !hash)
            continue;
        hash++;
        while (*hash == ' ')
            hash++;
        n += (size_t)sprintf(out + n, "%s\n", hash);
        (*count)++;
    }
    free(text);
    return out;
}

static char tracked[64][FBUS_NAME_MAX + 1];
static int nb_tracked;

char *tt_bus_name(char *buf, size_t size, const char *prefix)
{
    tu_bus_name(buf, size, prefix);
    if (nb_tracked < 64)
        snprintf(tracked[nb_tracked++], sizeof(tracked[0]), "%s", buf);
    return buf;
}

void tt_cleanup_buses(void)
{
    for (int i = 0; i < nb_tracked; i++)
        tu_bus_cleanup(tracked[i]);
    nb_tracked = 0;
}

fbus_writer *tt_open_writer(const char *name, fbus_transport t, const char *pix_fmt, uint32_t w,
                            uint32_t h, uint32_t slots, fbus_format *fmt)
{
    fbus_writer_opts o = {0};
    fbus_writer *wr = NULL;

    assert_int_equal(fbus_format_init(fmt, pix_fmt, w, h, 0), 0);
    o.transport = t;
    o.slots = slots;
    o.format = fmt;
    assert_int_equal(fbus_writer_open(name, &o, &wr), 0);
    return wr;
}

void tt_expect(int status, const char *err, const char *fmt, ...)
{
    char cmd[2048];
    tt_result r;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    tt_run(&r, 60000, "%s", cmd);
    if (strcmp(r.err, err) != 0 || r.status != status)
        fprintf(stderr, "command: %s\n", cmd);
    assert_string_equal(r.err, err);
    assert_int_equal(r.status, status);
    tt_free(&r);
}

void tt_assert_contains_(const char *hay, const char *needle, const char *file, int line)
{
    if (strstr(hay, needle))
        return;
    fprintf(stderr, "%s:%d: missing\n%s\nin\n%s\n", file, line, needle, hay);
    fail();
}

int tt_bus_exists(const char *name, fbus_transport t)
{
    fbus_stats st;
    return fbus_stat(name, t, &st) == 0;
}

int tt_group_setup(void **state)
{
    (void)state;
    return tt_setup();
}

int tt_group_teardown(void **state)
{
    (void)state;
    tt_cleanup_buses();
    tt_teardown();
    return 0;
}

int tt_test_cleanup(void **state)
{
    (void)state;
    tt_cleanup_buses();
    return 0;
}
