/* SPDX-License-Identifier: MIT */
/*
 * Helpers every framebus subcommand uses: one-line errors, option value
 * parsing, the stop flag the signal handlers set, and transport guessing.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t tool_stop;

void tool_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", TOOL_NAME);
    if (cmd)
        fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int tool_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", TOOL_NAME);
    if (cmd)
        fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s help%s%s')\n", TOOL_NAME, cmd ? " " : "", cmd ? cmd : "");
    return TOOL_EXIT_USAGE;
}

int tool_bad_option(const char *cmd, char **argv, int opt)
{
    const char *arg = argv[optind - 1];

    if (opt == ':')
        return tool_usage_error(cmd, "option \"%s\" needs a value", arg);
    if (optopt && !(arg[0] == '-' && arg[1] == '-'))
        return tool_usage_error(cmd, "unknown option \"-%c\"", optopt);
    return tool_usage_error(cmd, "unknown option \"%s\"", arg);
}

int tool_stdout_error(void)
{
    /* The first error is the one to report, on every later call too. */
    static int first_err;

    errno = 0;
    if (fflush(stdout) != 0 && !first_err)
        first_err = errno ? errno : EIO;
    if (ferror(stdout) && !first_err)
        first_err = EIO; /* the failed write was earlier; its errno is gone */
    return first_err;
}

static void on_stop(int sig)
{
    (void)sig;
    tool_stop = 1;
}

void tool_signals(int ignore_pipe)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (ignore_pipe)
        signal(SIGPIPE, SIG_IGN);
}

int tool_parse_transport(const char *s, fbus_transport *t)
{
    if (strcmp(s, "posix") == 0)
        *t = FBUS_TRANSPORT_POSIX;
    else if (strcmp(s, "sysv") == 0)
        *t = FBUS_TRANSPORT_SYSV;
    else
        return -1;
    return 0;
}

int tool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int tool_parse_seconds(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !(v >= 0) || v > 1e9)
        return -1;
    *out = v;
    return 0;
}

int tool_parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    const char *x = strchr(s, 'x');
    char wbuf[16];
    uint64_t vw, vh;

    if (!x || (size_t)(x - s) >= sizeof(wbuf))
        return -1;
    memcpy(wbuf, s, (size_t)(x - s));
    wbuf[x - s] = '\0';
    if (tool_parse_u64(wbuf, 1, 32768, &vw) < 0 || tool_parse_u64(x + 1, 1, 32768, &vh) < 0)
        return -1;
    *w = (uint32_t)vw;
    *h = (uint32_t)vh;
    return 0;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void tool_reduce(int64_t *num, int64_t *den)
{
    int64_t g = gcd64(*num < 0 ? -*num : *num, *den < 0 ? -*den : *den);

    if (g > 1) {
        *num /= g;
        *den /= g;
    }
}

int tool_parse_rate(const char *s, int *num, int *den)
{
    const char *sep = strpbrk(s, "/:");
    int64_t n, d;

    if (sep) {
        char nbuf[16];
        uint64_t a, b;

        if ((size_t)(sep - s) >= sizeof(nbuf))
            return -1;
        memcpy(nbuf, s, (size_t)(sep - s));
        nbuf[sep - s] = '\0';
        if (tool_parse_u64(nbuf, 1, INT32_MAX, &a) < 0 ||
            tool_parse_u64(sep + 1, 1, INT32_MAX, &b) < 0)
            return -1;
        n = (int64_t)a;
        d = (int64_t)b;
    } else {
        char *end;
        double v;

        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        v = strtod(s, &end);
        if (errno || *end || !(v > 0) || v > 1e6)
            return -1;
        /* Decimal rates become exact fractions over 1000 ("29.97" is
         * 2997/100); whole numbers stay over 1. */
        d = 1000;
        n = (int64_t)(v * 1000.0 + 0.5);
        if (n <= 0)
            return -1;
    }
    tool_reduce(&n, &d);
    if (n > INT32_MAX || d > INT32_MAX)
        return -1;
    *num = (int)n;
    *den = (int)d;
    return 0;
}

const char *tool_transport_name(fbus_transport t)
{
    return t == FBUS_TRANSPORT_SYSV ? "sysv" : "posix";
}

const char *tool_state_name(fbus_state s)
{
    switch (s) {
    case FBUS_STATE_LIVE:
        return "live";
    case FBUS_STATE_ENDED:
        return "ended";
    case FBUS_STATE_DEAD:
        return "dead";
    }
    return "unknown";
}

const char *tool_rate_str(char *buf, size_t size, int num, int den)
{
    if (den == 1)
        snprintf(buf, size, "%d", num);
    else
        snprintf(buf, size, "%d/%d", num, den);
    return buf;
}

fbus_transport tool_guess_transport(const char *name)
{
    fbus_stats *st = malloc(sizeof(*st));
    fbus_transport t = FBUS_TRANSPORT_POSIX;

    if (!st)
        return t;
    if (fbus_stat(name, FBUS_TRANSPORT_POSIX, st) == -ENOENT &&
        fbus_stat(name, FBUS_TRANSPORT_SYSV, st) != -ENOENT)
        t = FBUS_TRANSPORT_SYSV;
    free(st);
    return t;
}

const char *tool_bus_strerror(int err)
{
    switch (err) {
    case -ENOENT:
        return "no such bus (is a producer running?)";
    case -EACCES:
        return "permission denied";
    case FBUS_EOBSERVER:
        /* Lossless needs a reader entry; one that may only look can still
         * watch the newest frames. */
        return "read-only access to this bus: cannot read every frame (--latest "
               "watches the newest ones)";
    default:
        return fbus_strerror(err);
    }
}

struct bus_list {
    tool_bus *v;
    size_t n, cap;
    int err;
};

static int collect(const char *name, fbus_transport t, void *opaque)
{
    struct bus_list *l = opaque;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        tool_bus *v = realloc(l->v, cap * sizeof(*v));

        if (!v) {
            l->err = -ENOMEM;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
    l->v[l->n].transport = t;
    l->n++;
    return 0;
}

static int cmp_bus(const void *a, const void *b)
{
    const tool_bus *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (int)x->transport - (int)y->transport;
}

int tool_list_buses(tool_bus **out, size_t *n)
{
    struct bus_list l = {0};
    int rc = fbus_list(collect, &l);

    if (l.err)
        rc = l.err;
    if (rc < 0) {
        free(l.v);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof(*l.v), cmp_bus);
    *out = l.v;
    *n = l.n;
    return 0;
}

void tool_json_string(void *fp, const char *s)
{
    FILE *f = fp;

    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int tool_bus_fps(const fbus_stats *st, double *fps)
{
    if (st->state != FBUS_STATE_LIVE)
        return 0;
    /* The library measures over whole seconds: a bus publishing for less
     * than that reads 0 while its last frame is recent. */
    if (st->fps == 0 && st->frames > 0 && st->last_publish_age_ns >= 0 &&
        st->last_publish_age_ns < 1000000000LL)
        return 0;
    *fps = st->fps;
    return 1;
}

/* The bus's rate with `decimals` decimals, or `none` when it has none. */
static const char *fps_text(char *buf, size_t size, const fbus_stats *st, int decimals,
                            const char *none)
{
    double fps;

    if (tool_bus_fps(st, &fps))
        snprintf(buf, size, "%.*f", decimals, fps);
    else
        snprintf(buf, size, "%s", none);
    return buf;
}

const char *tool_fps_str(char *buf, size_t size, const fbus_stats *st)
{
    return fps_text(buf, size, st, 1, "-");
}

const char *tool_fps_json(char *buf, size_t size, const fbus_stats *st)
{
    return fps_text(buf, size, st, 2, "null");
}

const char *tool_format_str(char *buf, size_t size, const fbus_format *fmt)
{
    if (fmt->width == 0 || fmt->pix_fmt[0] == '\0')
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%ux%u %.*s", fmt->width, fmt->height, (int)sizeof(fmt->pix_fmt),
                 fmt->pix_fmt);
    return buf;
}
