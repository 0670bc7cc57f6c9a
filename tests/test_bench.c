/* SPDX-License-Identifier: MIT */
/*
 * Tests of `framebus bench`: runs the real command with tiny frames and few
 * frames, reads its JSON and checks what a user relies on (every field there,
 * no bad checksum, lossless readers got every frame, ratios positive, no bus
 * left behind), and the one-line errors for bad options. No timing asserts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define FRAMEBUS   FBUS_TEST_BINDIR "/tools/framebus"
#define TIMEOUT_MS 60000

/* ------------------------------------------------------------ running */

struct run {
    int status; /* exit code, 128 + signal, -1 if killed on timeout */
    pid_t pid;
    char *out;
    char *err;
};

static char *slurp(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;

    assert_non_null(buf);
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

static int tmpfile_fd(void)
{
    char path[] = "/tmp/test_bench.XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

/* Run framebus with args (NULL-terminated) and optional env PATH override,
 * capturing stdout and stderr. */
static void run_framebus(struct run *r, const char *path_env, ...)
{
    const char *argv[32];
    int argc = 0, ofd = tmpfile_fd(), efd = tmpfile_fd(), st;
    va_list ap;
    pid_t pid;

    argv[argc++] = FRAMEBUS;
    va_start(ap, path_env);
    while (argc < 31 && (argv[argc] = va_arg(ap, const char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(ofd, STDOUT_FILENO);
        dup2(efd, STDERR_FILENO);
        if (path_env)
            setenv("PATH", path_env, 1);
        execv(FRAMEBUS, (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    r->status = -1;
    for (int waited = 0; waited < TIMEOUT_MS; waited += 10) {
        struct timespec ts = {0, 10 * 1000000L};
        pid_t p = waitpid(pid, &st, WNOHANG);
        if (p == pid) {
            r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        nanosleep(&ts, NULL);
    }
    if (r->status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    r->out = slurp(ofd);
    r->err = slurp(efd);
    close(ofd);
    close(efd);
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* ------------------------------------------------------------ JSON */

enum { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ, J_BOOL };

struct jv {
    int type;
    double num;
    char *str;
    size_t n;
    char **keys;
    struct jv **items;
};

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
        (*p)++;
}

static void jv_free(struct jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static char *parse_string(const char **p)
{
    const char *s = ++*p;
    char *out;

    while (**p && **p != '"') {
        if (**p == '\\' && (*p)[1])
            (*p)++;
        (*p)++;
    }
    if (**p != '"')
        return NULL;
    out = strndup(s, (size_t)(*p - s));
    (*p)++;
    return out;
}

static struct jv *parse_value(const char **p);

static int push(struct jv *v, char *key, struct jv *item)
{
    v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
    if (v->type == J_OBJ)
        v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
    if (!v->items || (v->type == J_OBJ && !v->keys))
        return -1;
    v->items[v->n] = item;
    if (v->type == J_OBJ)
        v->keys[v->n] = key;
    v->n++;
    return 0;
}

static struct jv *parse_container(const char **p, int type)
{
    struct jv *v = calloc(1, sizeof(*v));
    char close = type == J_OBJ ? '}' : ']';

    v->type = type;
    (*p)++;
    skip_ws(p);
    if (**p == close) {
        (*p)++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        struct jv *item;

        skip_ws(p);
        if (type == J_OBJ) {
            if (**p != '"' || !(key = parse_string(p)))
                goto fail;
            skip_ws(p);
            if (**p != ':') {
                free(key);
                goto fail;
            }
            (*p)++;
        }
        item = parse_value(p);
        if (!item || push(v, key, item) < 0) {
            free(key);
            jv_free(item);
            goto fail;
        }
        skip_ws(p);
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p == close) {
            (*p)++;
            return v;
        }
        goto fail;
    }
fail:
    jv_free(v);
    return NULL;
}

static struct jv *parse_value(const char **p)
{
    struct jv *v;
    char *end;

    skip_ws(p);
    if (**p == '{')
        return parse_container(p, J_OBJ);
    if (**p == '[')
        return parse_container(p, J_ARR);
    v = calloc(1, sizeof(*v));
    if (**p == '"') {
        v->type = J_STR;
        v->str = parse_string(p);
        if (!v->str) {
            free(v);
            return NULL;
        }
        return v;
    }
    if (strncmp(*p, "null", 4) == 0) {
        v->type = J_NULL;
        *p += 4;
        return v;
    }
    if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "false", 5) == 0) {
        v->type = J_BOOL;
        v->num = **p == 't';
        *p += **p == 't' ? 4 : 5;
        return v;
    }
    v->type = J_NUM;
    v->num = strtod(*p, &end);
    if (end == *p) {
        free(v);
        return NULL;
    }
    *p = end;
    return v;
}

static struct jv *json_parse(const char *text)
{
    const char *p = text;
    struct jv *v = parse_value(&p);

    skip_ws(&p);
    if (v && *p) {
        jv_free(v);
        return NULL;
    }
    return v;
}

/* Look up "a.b.0.c" (array indices as numbers); NULL if missing. */
static const struct jv *jget(const struct jv *v, const char *path)
{
    char buf[128], *save = NULL, *tok;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
        const struct jv *next = NULL;
        if (v->type == J_OBJ) {
            for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->keys[i], tok) == 0)
                    next = v->items[i];
        } else if (v->type == J_ARR) {
            size_t i = strtoul(tok, NULL, 10);
            if (i < v->n)
                next = v->items[i];
        }
        v = next;
    }
    return v;
}

/* The number at path; fails the test if it is missing or not a number. */
static double jnum(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);

    if (!v || v->type != J_NUM)
        fail_msg("JSON has no number at \"%s\"", path);
    return v->num;
}

static const char *jstr(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);

    if (!v || v->type != J_STR)
        fail_msg("JSON has no string at \"%s\"", path);
    return v->str;
}

/* ------------------------------------------------------------ checks */

/* No bus of this framebus process is left in /dev/shm. */
static void assert_no_leftover(pid_t pid)
{
    char path[128];

    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/dev/shm/framebus.fbus-bench-%d-%d", (int)pid, i);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "/dev/shm/framebus-sysv.fbus-bench-%d-%d", (int)pid, i);
        assert_int_equal(access(path, F_OK), -1);
    }
}

static void assert_latency(const struct jv *root, const char *prefix)
{
    char key[128];
    double p50, p99, max;

    snprintf(key, sizeof(key), "%s.latency_us.p50", prefix);
    p50 = jnum(root, key);
    snprintf(key, sizeof(key), "%s.latency_us.p99", prefix);
    p99 = jnum(root, key);
    snprintf(key, sizeof(key), "%s.latency_us.max", prefix);
    max = jnum(root, key);
    assert_true(p50 >= 0);
    assert_true(p50 <= p99);
    assert_true(p99 <= max);
}

/* What every bench JSON has, whatever the policy. */
static void assert_common(const struct jv *root, int readers, const char *policy,
                          const char *transport)
{
    const char *sides[] = {"bus", "pipe"};

    assert_int_equal((int)jnum(root, "width"), 64);
    assert_int_equal((int)jnum(root, "height"), 48);
    assert_string_equal(jstr(root, "pix_fmt"), "yuv420p");
    assert_true(jnum(root, "frame_bytes") >= 64 * 48 * 3 / 2);
    assert_int_equal((int)jnum(root, "readers"), readers);
    assert_string_equal(jstr(root, "policy"), policy);
    assert_string_equal(jstr(root, "transport"), transport);
    assert_true(jnum(root, "memcpy.fps") > 0);
    assert_true(jnum(root, "memcpy.frames") > 0);
    assert_true(jnum(root, "memcpy.warm.fps") > 0);
    assert_true(jnum(root, "memcpy.warm.frames") > 0);
    assert_true(jnum(root, "bus.reader_cpu_percent") > 0);
    for (int s = 0; s < 2; s++) {
        char key[128];
        const struct jv *rd;

        snprintf(key, sizeof(key), "%s.writer", sides[s]);
        assert_true(jnum(root, strcat(key, ".fps")) > 0);
        snprintf(key, sizeof(key), "%s.writer.cpu_us_per_frame", sides[s]);
        assert_true(jnum(root, key) >= 0);
        snprintf(key, sizeof(key), "%s.readers", sides[s]);
        rd = jget(root, key);
        assert_non_null(rd);
        assert_int_equal(rd->type, J_ARR);
        assert_int_equal((int)rd->n, readers);
        snprintf(key, sizeof(key), "%s.bad_checksums", sides[s]);
        assert_int_equal((int)jnum(root, key), 0);
        snprintf(key, sizeof(key), "%s.seq_errors", sides[s]);
        assert_int_equal((int)jnum(root, key), 0);
        snprintf(key, sizeof(key), "%s.drops", sides[s]);
        assert_true(jnum(root, key) >= 0);
        snprintf(key, sizeof(key), "%s.overruns", sides[s]);
        assert_true(jnum(root, key) >= 0);
        snprintf(key, sizeof(key), "%s", sides[s]);
        assert_latency(root, key);
        for (int i = 0; i < readers; i++) {
            snprintf(key, sizeof(key), "%s.readers.%d.bad_checksums", sides[s], i);
            assert_int_equal((int)jnum(root, key), 0);
            snprintf(key, sizeof(key), "%s.readers.%d.fps", sides[s], i);
            assert_true(jnum(root, key) > 0);
            snprintf(key, sizeof(key), "%s.readers.%d.cpu_us_per_frame", sides[s], i);
            assert_true(jnum(root, key) >= 0);
            snprintf(key, sizeof(key), "%s.readers.%d", sides[s], i);
            assert_latency(root, key);
        }
    }
    assert_true(jnum(root, "ratios.bus_pipe") > 0);
    assert_true(jnum(root, "ratios.bus_memcpy") > 0);
    assert_true(jnum(root, "ratios.bus_memcpy_warm") > 0);
}

static void test_lossless_json(void **state)
{
    struct run r;
    struct jv *root;

    (void)state;
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "40", "--readers", "2",
                 "--policy", "lossless", "--json", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    assert_string_equal(r.err, "");
    root = json_parse(r.out);
    if (!root)
        fail_msg("not JSON: %s", r.out);
    assert_common(root, 2, "lossless", "posix");
    assert_int_equal((int)jnum(root, "frames"), 40);
    /* Lossless readers and pipe readers get every frame the writer sent. */
    assert_int_equal((int)jnum(root, "bus.writer.frames"), 40);
    assert_int_equal((int)jnum(root, "pipe.writer.frames"), 40);
    for (int i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof(key), "bus.readers.%d.frames", i);
        assert_int_equal((int)jnum(root, key), 40);
        snprintf(key, sizeof(key), "bus.readers.%d.drops", i);
        assert_int_equal((int)jnum(root, key), 0);
        snprintf(key, sizeof(key), "pipe.readers.%d.frames", i);
        assert_int_equal((int)jnum(root, key), 40);
    }
    assert_int_equal((int)jnum(root, "bus.overruns"), 0);
    jv_free(root);
    assert_no_leftover(r.pid);
    run_free(&r);
}

static void test_latest_sysv_json(void **state)
{
    struct run r;
    struct jv *root;
    double wframes;

    (void)state;
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "60", "--readers", "3",
                 "--transport", "sysv", "--json", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    root = json_parse(r.out);
    if (!root)
        fail_msg("not JSON: %s", r.out);
    assert_common(root, 3, "latest", "sysv");
    wframes = jnum(root, "bus.writer.frames");
    assert_int_equal((int)wframes, 60);
    for (int i = 0; i < 3; i++) {
        char key[64];
        double got, dropped;
        snprintf(key, sizeof(key), "bus.readers.%d.frames", i);
        got = jnum(root, key);
        snprintf(key, sizeof(key), "bus.readers.%d.drops", i);
        dropped = jnum(root, key);
        /* A latest reader sees some frames and skips others, never more
         * than were sent. */
        assert_true(got >= 1);
        assert_true(got + dropped <= wframes);
        snprintf(key, sizeof(key), "pipe.readers.%d.frames", i);
        assert_int_equal((int)jnum(root, key), 60);
    }
    jv_free(root);
    assert_no_leftover(r.pid);
    run_free(&r);
}

static void test_paced_json(void **state)
{
    struct run r;
    struct jv *root;

    (void)state;
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "20", "--readers", "2",
                 "--slots", "4", "--reader-fps", "2000", "--rounds", "1", "--policy", "lossless",
                 "--json", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    root = json_parse(r.out);
    if (!root)
        fail_msg("not JSON: %s", r.out);
    assert_common(root, 2, "lossless", "posix");
    assert_int_equal((int)jnum(root, "slots"), 4);
    assert_int_equal((int)jnum(root, "rounds"), 1);
    assert_true(jnum(root, "reader_fps_limit") == 2000.0);
    assert_true(jnum(root, "bus.writer.switches.voluntary") >= 0);
    assert_true(jnum(root, "bus.readers.1.switches.involuntary") >= 0);
    /* Paced lossless readers still get every frame. */
    assert_int_equal((int)jnum(root, "bus.readers.0.frames"), 20);
    assert_int_equal((int)jnum(root, "bus.readers.1.frames"), 20);
    assert_int_equal((int)jnum(root, "pipe.readers.1.frames"), 20);
    jv_free(root);
    assert_no_leftover(r.pid);
    run_free(&r);
}

/* A writer paced with --fps never runs ahead of its rate: 30 frames at 200
 * frames/s span 29 periods, so no more than 200 * 30 / 29 frames/s. */
static void test_writer_paced_json(void **state)
{
    struct run r;
    struct jv *root;
    double most = 200.0 * 30 / 29 * 1.001;

    (void)state;
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "30", "--fps", "200", "--rounds",
                 "1", "--policy", "lossless", "--json", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    root = json_parse(r.out);
    if (!root)
        fail_msg("not JSON: %s", r.out);
    assert_common(root, 1, "lossless", "posix");
    assert_true(jnum(root, "writer_fps_limit") == 200.0);
    assert_true(jnum(root, "bus.writer.fps") > 0);
    if (jnum(root, "bus.writer.fps") > most || jnum(root, "pipe.writer.fps") > most)
        fail_msg("paced at 200 fps, the writers ran at %.1f (bus) and %.1f (pipe) fps",
                 jnum(root, "bus.writer.fps"), jnum(root, "pipe.writer.fps"));
    /* The memcpy baseline is never paced. */
    assert_true(jnum(root, "memcpy.fps") > most);
    assert_int_equal((int)jnum(root, "bus.readers.0.frames"), 30);
    assert_int_equal((int)jnum(root, "pipe.readers.0.frames"), 30);
    jv_free(root);
    assert_no_leftover(r.pid);
    run_free(&r);
}

/* --low-latency: readers wait with FBUS_READER_LOW_LATENCY, and get every
 * frame of a paced lossless stream; the JSON says so. */
static void test_low_latency_json(void **state)
{
    struct run r;
    struct jv *root;
    const struct jv *ll;

    (void)state;
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "40", "--fps", "200", "--rounds",
                 "1", "--policy", "lossless", "--low-latency", "--json", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    root = json_parse(r.out);
    if (!root)
        fail_msg("not JSON: %s", r.out);
    assert_common(root, 1, "lossless", "posix");
    ll = jget(root, "low_latency");
    assert_non_null(ll);
    assert_int_equal(ll->type, J_BOOL);
    assert_true(ll->num == 1);
    assert_int_equal((int)jnum(root, "bus.readers.0.frames"), 40);
    jv_free(root);
    assert_no_leftover(r.pid);
    run_free(&r);
}

/* Remove a directory and the files in it. */
static void unlink_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Ctrl-C in the middle of a --sweep --json: the points measured so far are
 * still one valid JSON array, and no bench bus is left behind. */
static void test_sweep_interrupted_json(void **state)
{
    char dir[] = "/tmp/test_bench_sweep.XXXXXX";
    int ofd = tmpfile_fd(), efd = tmpfile_fd(), st = 0, got = 0;
    struct jv *root;
    char *out, *err;
    pid_t pid;

    (void)state;
    assert_non_null(mkdtemp(dir));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(ofd, STDOUT_FILENO);
        dup2(efd, STDERR_FILENO);
        execl(FRAMEBUS, FRAMEBUS, "bench", "--sweep", "--json", "--frames", "30", "--rounds", "1",
              "--out", dir, (char *)NULL);
        _exit(127);
    }
    /* Wait for the first point, then interrupt. */
    for (int waited = 0; waited < TIMEOUT_MS && !got; waited += 20) {
        struct timespec ts = {0, 20 * 1000000L};
        char buf[256];
        ssize_t n = pread(ofd, buf, sizeof(buf) - 1, 0);

        buf[n > 0 ? n : 0] = '\0';
        got = strstr(buf, "\"width\"") != NULL;
        nanosleep(&ts, NULL);
    }
    assert_true(got);
    kill(pid, SIGINT);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    out = slurp(ofd);
    err = slurp(efd);
    close(ofd);
    close(efd);
    root = json_parse(out);
    if (!root || root->type != J_ARR)
        fail_msg("not a JSON array after Ctrl-C: %s (stderr: %s)", out, err);
    assert_true(jnum(root, "0.bus.writer.frames") > 0);
    jv_free(root);
    assert_no_leftover(pid);
    free(out);
    free(err);
    unlink_dir(dir);
}

/* A whole sweep at its smallest (gray frames, one frame a point, one round):
 * "--out DIR/" and "--out DIR" name the same files, and the closing line says
 * where the CSV is without a doubled slash. */
static void test_sweep_out_slash(void **state)
{
    char dir[] = "/tmp/test_bench_sweep.XXXXXX", out[128], csv[160], want[192];
    struct run r;
    struct stat st;
    FILE *f;
    int lines = 0, c;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s/results/", dir);
    snprintf(csv, sizeof(csv), "%s/results/bench-sweep.csv", dir);
    run_framebus(&r, NULL, "bench", "--sweep", "--pix-fmt", "gray", "--frames", "1", "--rounds",
                 "1", "--out", out, NULL);
    if (r.status != 0)
        fail_msg("framebus bench --sweep exited %d: %s", r.status, r.err);
    /* "wrote DIR/results/bench-sweep.csv and ..." (with gnuplot or not). */
    snprintf(want, sizeof(want), " %s ", csv);
    if (!strstr(r.err, want) || strstr(r.err, "//"))
        fail_msg("the sweep does not name %s: %s", csv, r.err);
    /* That file is the CSV: a header and one row per point. */
    assert_int_equal(stat(csv, &st), 0);
    f = fopen(csv, "r");
    assert_non_null(f);
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    assert_int_equal(lines, 1 + 4 * 4 * 2 * 2);
    run_free(&r);
    snprintf(out, sizeof(out), "%s/results", dir);
    unlink_dir(out);
    unlink_dir(dir);
}

static void test_table(void **state)
{
    struct run r;

    (void)state;
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "20", "--pix-fmt", "rgba", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "framebus bench: 64x48 rgba (12288 bytes), 1 reader, latest"));
    assert_non_null(strstr(r.out, "\nmemcpy "));
    assert_non_null(strstr(r.out, "\nbus writer "));
    assert_non_null(strstr(r.out, "\nbus reader 1 "));
    assert_non_null(strstr(r.out, "\npipe writer "));
    assert_non_null(strstr(r.out, "\npipe reader 1 "));
    assert_non_null(strstr(r.out, "bus/pipe "));
    assert_non_null(strstr(r.out, "bus/memcpy "));
    assert_null(strstr(r.out, "paced"));
    /* Not a terminal: no progress line. */
    assert_string_equal(r.err, "");
    run_free(&r);

    /* Paced writers: the ratios compare paced rates, and the table says so. */
    run_framebus(&r, NULL, "bench", "--size", "64x48", "--frames", "10", "--fps", "500", NULL);
    if (r.status != 0)
        fail_msg("framebus bench exited %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "writer at most 500 fps"));
    assert_non_null(strstr(r.out, "(the writers were paced by --fps: compare latencies)"));
    run_free(&r);
}

static void test_help(void **state)
{
    struct run r, h;

    (void)state;
    run_framebus(&r, NULL, "bench", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: framebus bench [--size WxH]"));
    assert_non_null(strstr(r.out, "--sweep"));
    assert_string_equal(r.err, "");
    /* `framebus help bench` is the same full text. */
    run_framebus(&h, NULL, "help", "bench", NULL);
    assert_int_equal(h.status, 0);
    assert_string_equal(h.out, r.out);
    run_free(&h);
    run_free(&r);
}

/* A bad option: exit 2, nothing on stdout, exactly this line on stderr. */
static void expect_usage(const char *want, ...)
{
    const char *args[12];
    int n = 0;
    va_list ap;
    struct run r;
    char line[512];

    va_start(ap, want);
    while (n < 11 && (args[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    args[n] = NULL;
    run_framebus(&r, NULL, "bench", args[0], args[1], args[2], args[3], args[4], args[5], args[6],
                 NULL);
    snprintf(line, sizeof(line), "framebus: bench: %s (see 'framebus help bench')\n", want);
    if (r.status != 2 || strcmp(r.err, line) != 0)
        fail_msg("exit %d, stderr \"%s\", wanted 2 and \"%s\"", r.status, r.err, line);
    assert_string_equal(r.out, "");
    run_free(&r);
}

static void test_bad_options(void **state)
{
    (void)state;
    expect_usage("bad size \"12\" (WxH, e.g. 1920x1080)", "--size", "12", NULL);
    expect_usage("bad size \"0x10\" (WxH, e.g. 1920x1080)", "--size", "0x10", NULL);
    expect_usage("unknown pixel format \"nope\"", "--pix-fmt", "nope", NULL);
    expect_usage("bad reader count \"0\" (1 to 64)", "--readers", "0", NULL);
    expect_usage("bad reader count \"65\" (1 to 64)", "--readers", "65", NULL);
    expect_usage("unknown policy \"fast\" (latest or lossless)", "--policy", "fast", NULL);
    expect_usage("unknown transport \"tcp\" (posix or sysv)", "--transport", "tcp", NULL);
    expect_usage("bad slot count \"1\" (2 to 64)", "--slots", "1", NULL);
    expect_usage("bad frame count \"-3\" (a positive number)", "--frames", "-3", NULL);
    expect_usage("bad duration \"soon\" (seconds, more than 0)", "--seconds", "soon", NULL);
    expect_usage("bad round count \"0\" (1 to 64)", "--rounds", "0", NULL);
    expect_usage("bad reader rate \"0\" (frames per second, more than 0)", "--reader-fps", "0",
                 NULL);
    expect_usage("bad writer rate \"-1\" (frames per second, more than 0)", "--fps", "-1", NULL);
    expect_usage("--sweep measures the most each setup can do; drop --fps", "--sweep", "--fps",
                 "30", NULL);
    expect_usage("--frames and --seconds cannot be used together", "--frames", "10", "--seconds",
                 "1", NULL);
    expect_usage("option \"--frames\" needs a value", "--frames", NULL);
    expect_usage("unknown option \"--bogus\"", "--bogus", NULL);
    expect_usage("unexpected argument \"extra\"", "extra", NULL);
    expect_usage("--out needs --sweep", "--out", "/tmp", NULL);
    expect_usage("--sweep runs its own matrix of sizes, readers, policies and transports; "
                 "drop --readers",
                 "--sweep", "--readers", "2", NULL);
    expect_usage("4x1 is too small: the first plane must hold at least 128 bytes", "--size", "4x1",
                 "--pix-fmt", "gray", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),      cmocka_unit_test(test_help),
        cmocka_unit_test(test_lossless_json),    cmocka_unit_test(test_latest_sysv_json),
        cmocka_unit_test(test_paced_json),       cmocka_unit_test(test_writer_paced_json),
        cmocka_unit_test(test_low_latency_json), cmocka_unit_test(test_sweep_interrupted_json),
        cmocka_unit_test(test_sweep_out_slash),  cmocka_unit_test(test_table),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
