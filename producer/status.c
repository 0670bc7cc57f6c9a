/* SPDX-License-Identifier: MIT */
/*
 * The producer's live status line and summary. Reader counters come from
 * fbus_stat(), read at most twice a second.
 */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS         1000000000LL
#define REFRESH_NS (NS / 2)

void prod_status_init(prod_status *s, const char *bus, fbus_transport transport, int quiet)
{
    memset(s, 0, sizeof(*s));
    s->quiet = quiet;
    s->bus = bus;
    s->transport = transport;
}

static void read_counters(prod_status *s)
{
    fbus_stats *st = malloc(sizeof(*st));

    if (!st)
        return;
    if (fbus_stat(s->bus, s->transport, st) == 0) {
        uint64_t drops = 0, overruns = 0;
        int readers = 0;

        for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++) {
            if (!st->readers[i].alive)
                continue;
            readers++;
            drops += st->readers[i].drops;
            overruns += st->readers[i].overruns;
        }
        /* Counters of readers that left are gone with their entries; keep
         * the highest totals seen so the line never goes backwards. */
        if (drops > s->drops)
            s->drops = drops;
        if (overruns > s->overruns)
            s->overruns = overruns;
        s->readers = readers;
    }
    free(st);
}

static void format_time(char *buf, size_t n, double t)
{
    long long cs = (long long)(t * 100.0 + 0.5);

    if (cs < 0)
        cs = 0;
    snprintf(buf, n, "%02lld:%02lld:%02lld.%02lld", cs / 360000, cs / 6000 % 60, cs / 100 % 60,
             cs % 100);
}

void prod_status_update(prod_status *s, fbus_writer *w, uint64_t frames, double media_t,
                        uint64_t corrupt, int force)
{
    int64_t now = fbus_now_ns();
    char t[32];
    double elapsed;

    if (s->start_ns == 0) {
        s->start_ns = now;
        s->last_print_ns = now;
    }
    if (!force && now - s->last_print_ns < REFRESH_NS)
        return;
    if (now > s->last_print_ns)
        s->fps = (double)(frames - s->last_frames) * NS / (double)(now - s->last_print_ns);
    s->last_frames = frames;
    s->last_print_ns = now;
    read_counters(s);
    if (w)
        s->readers = fbus_writer_readers(w);
    if (s->quiet)
        return;
    elapsed = (double)(now - s->start_ns) / NS;
    format_time(t, sizeof(t), media_t);
    fprintf(stderr, "frame=%7llu fps=%6.1f time=%s speed=%5.2fx readers=%d drops=%llu",
            (unsigned long long)frames, s->fps, t, elapsed > 0 ? media_t / elapsed : 0.0,
            s->readers, (unsigned long long)(s->drops + s->overruns));
    if (corrupt)
        fprintf(stderr, " corrupt=%llu", (unsigned long long)corrupt);
    fputs("   \r", stderr);
    fflush(stderr);
    s->line_open = 1;
}

void prod_status_break(prod_status *s)
{
    if (s->line_open)
        fputc('\n', stderr);
    s->line_open = 0;
}

void prod_status_summary(prod_status *s, const fbus_format *fmt, uint64_t frames, double media_t,
                         uint64_t corrupt, int truncated)
{
    double elapsed = s->start_ns ? (double)(fbus_now_ns() - s->start_ns) / NS : 0.0;

    if (s->quiet)
        return;
    prod_status_break(s);
    fprintf(stderr,
            "framebus-producer: bus \"%s\": %llu frames (%ux%u %s), %.2f s, %.1f fps, "
            "%d readers at the end, %llu dropped by readers, %llu corrupt packet%s%s\n",
            s->bus, (unsigned long long)frames, fmt->width, fmt->height,
            fmt->pix_fmt[0] ? fmt->pix_fmt : "-", elapsed,
            elapsed > 0 ? (double)frames / elapsed : 0.0, s->readers,
            (unsigned long long)(s->drops + s->overruns), (unsigned long long)corrupt,
            corrupt == 1 ? "" : "s", truncated ? ", input ended early (truncated?)" : "");
    (void)media_t;
}
