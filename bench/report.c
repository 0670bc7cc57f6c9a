/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the result of one run as a table or as JSON, and the lines
 * that report problems (through the config's report callback).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"
#include "internal.h"

void bench_say(const bench_config *cfg, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (cfg->report)
        cfg->report(line);
    else
        fprintf(stderr, "bench: %s\n", line);
}

const char *bench_policy_name(fbus_policy p)
{
    return p == FBUS_POLICY_LOSSLESS ? "lossless" : "latest";
}

static void table_row(FILE *f, const char *what, int reader, const bench_proc *p, int is_reader)
{
    char name[32];

    if (reader > 0)
        snprintf(name, sizeof(name), "%s reader %d", what, reader);
    else
        snprintf(name, sizeof(name), "%s writer", what);
    fprintf(f, "%-16s %9" PRIu64 " %10.1f %9.1f", name, p->frames, p->fps, p->cpu_us_per_frame);
    if (is_reader)
        fprintf(f, " %8" PRIu64 " %8" PRIu64 " %5" PRIu64 " %9.1f %9.1f %9.1f", p->drops,
                p->overruns, p->bad, p->latency.p50_us, p->latency.p99_us, p->latency.max_us);
    fputc('\n', f);
}

void bench_table_head(FILE *f)
{
    fprintf(f, "%-16s %9s %10s %9s %8s %8s %5s %9s %9s %9s\n", "", "frames", "fps", "cpu us/f",
            "drops", "overruns", "bad", "lat p50", "lat p99", "lat max");
}

void bench_table_side(FILE *f, const char *what, const bench_side *s)
{
    if (!s->done)
        return;
    table_row(f, what, 0, &s->writer, 0);
    for (int i = 0; i < s->nb_readers; i++)
        table_row(f, what, i + 1, &s->readers[i], 1);
    if (s->nb_readers > 1)
        fprintf(f, "%-16s %9s %10s %9s %8" PRIu64 " %8" PRIu64 " %5" PRIu64 " %9.1f %9.1f %9.1f\n",
                "  all readers", "", "", "", s->drops, s->overruns, s->bad, s->latency.p50_us,
                s->latency.p99_us, s->latency.max_us);
}

void bench_print_table(FILE *f, const bench_result *res)
{
    const bench_config *c = &res->cfg;

    fprintf(f,
            "framebus bench: %" PRIu32 "x%" PRIu32 " %s (%" PRIu64 " bytes), %d reader%s, %s, "
            "%s, %" PRIu32 " slots, ",
            c->width, c->height, c->pix_fmt, res->fmt.size, c->readers, c->readers == 1 ? "" : "s",
            bench_policy_name(c->policy), tool_transport_name(c->transport), c->slots);
    if (c->frames)
        fprintf(f, "%" PRIu64 " frames per round", c->frames);
    else
        fprintf(f, "%.1f s per measurement", c->seconds);
    fprintf(f, ", best of %d round%s, ", c->rounds, c->rounds == 1 ? "" : "s");
    if (c->fps > 0)
        fprintf(f, "writer at most %g fps, ", c->fps);
    if (c->reader_fps > 0)
        fprintf(f, "readers at most %g fps, ", c->reader_fps);
    if (c->low_latency)
        fprintf(f, "low-latency readers, ");
    if (c->pin)
        fprintf(f, "pinned (writer on one CPU, readers on others), ");
    fprintf(f, "load %.2f\n\n", res->loadavg);
    bench_table_head(f);
    if (res->memcpy_done) {
        fprintf(f, "%-16s %9" PRIu64 " %10.1f %9.1f\n", "memcpy", res->memcpy_frames,
                res->memcpy_fps, res->memcpy_cpu_us_per_frame);
        fprintf(f, "%-16s %9" PRIu64 " %10.1f %9.1f\n", "memcpy warm", res->memcpy_warm_frames,
                res->memcpy_warm_fps, res->memcpy_warm_cpu_us_per_frame);
    }
    bench_table_side(f, "bus", &res->bus);
    bench_table_side(f, "pipe", &res->pipe);
    fprintf(f, "\nlatency in us, publish -> acquire (pipe: send -> whole frame read)\n");
    fprintf(f,
            "memcpy: the writer's copy into a ring of %" PRIu32 " frames, %d reader process%s "
            "checksumming them (%s, no bus); warm: memcpy into 3 cache-warm buffers, no reader\n",
            c->slots, c->readers, c->readers == 1 ? "" : "es", bench_policy_name(c->policy));
    if (res->bus.done)
        fprintf(f, "bus readers' CPU: %.2f%% of a core (mean)%s\n", res->bus.reader_cpu_percent,
                c->low_latency ? ", low-latency wait" : "");
    fprintf(f, "bus/pipe %.3gx   bus/memcpy %.3gx   bus/memcpy warm %.3gx%s\n", res->bus_pipe,
            res->bus_memcpy, res->bus_memcpy_warm,
            res->cfg.fps > 0 ? "   (the writers were paced by --fps: compare latencies)" : "");
}

/* A number for JSON: finite, or null. */
static void num(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v) && v != 0 && fabs(v) < 1)
        fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", "); /* small ratios */
    else if (isfinite(v))
        fprintf(f, "\"%s\": %.3f%s", key, v, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static void json_latency(FILE *f, const bench_latency *l)
{
    fprintf(f, "\"latency_us\": {\"samples\": %" PRIu64 ", ", l->samples);
    num(f, "p50", l->p50_us, 0);
    num(f, "p99", l->p99_us, 0);
    num(f, "max", l->max_us, 1);
    fputc('}', f);
}

static void json_proc(FILE *f, const bench_proc *p, int is_reader)
{
    fprintf(f, "{\"frames\": %" PRIu64 ", ", p->frames);
    num(f, "seconds", p->seconds, 0);
    num(f, "fps", p->fps, 0);
    num(f, "cpu_us_per_frame", p->cpu_us_per_frame, 0);
    num(f, "cpu_percent", p->cpu_percent, 0);
    fprintf(f, "\"switches\": {\"voluntary\": %" PRIu64 ", \"involuntary\": %" PRIu64 "}%s",
            p->vcsw, p->ivcsw, is_reader ? ", " : "");
    if (is_reader) {
        fprintf(f,
                "\"drops\": %" PRIu64 ", \"overruns\": %" PRIu64 ", \"bad_checksums\": %" PRIu64
                ", \"seq_errors\": %" PRIu64 ", ",
                p->drops, p->overruns, p->bad, p->seq_errors);
        json_latency(f, &p->latency);
    }
    fputc('}', f);
}

static void json_side(FILE *f, const char *key, const bench_side *s, const char *indent)
{
    fprintf(f, "%s\"%s\": ", indent, key);
    if (!s->done) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\n%s  \"writer\": ", indent);
    json_proc(f, &s->writer, 0);
    fprintf(f, ",\n%s  \"readers\": [", indent);
    for (int i = 0; i < s->nb_readers; i++) {
        fprintf(f, "%s\n%s    ", i ? "," : "", indent);
        json_proc(f, &s->readers[i], 1);
    }
    fprintf(f,
            "\n%s  ],\n%s  \"drops\": %" PRIu64 ", \"overruns\": %" PRIu64
            ", \"bad_checksums\": %" PRIu64 ", \"seq_errors\": %" PRIu64 ",\n%s  ",
            indent, indent, s->drops, s->overruns, s->bad, s->seq_errors, indent);
    num(f, "reader_fps_min", s->reader_fps_min, 0);
    num(f, "reader_fps_mean", s->reader_fps_mean, 0);
    num(f, "reader_cpu_us_per_frame", s->reader_cpu_us_per_frame, 0);
    num(f, "reader_cpu_percent", s->reader_cpu_percent, 1);
    fprintf(f, ",\n%s  ", indent);
    json_latency(f, &s->latency);
    fprintf(f, "\n%s}", indent);
}

void bench_print_json(FILE *f, const bench_result *res)
{
    const bench_config *c = &res->cfg;

    fprintf(f,
            "{\n  \"width\": %" PRIu32 ", \"height\": %" PRIu32 ", \"pix_fmt\": \"%s\", "
            "\"frame_bytes\": %" PRIu64 ",\n  \"readers\": %d, \"policy\": \"%s\", "
            "\"transport\": \"%s\", \"slots\": %" PRIu32 ", ",
            c->width, c->height, c->pix_fmt, res->fmt.size, c->readers,
            bench_policy_name(c->policy), tool_transport_name(c->transport), c->slots);
    if (c->frames)
        fprintf(f, "\"frames\": %" PRIu64 ", \"seconds\": null, ", c->frames);
    else
        fprintf(f, "\"frames\": null, \"seconds\": %.3f, ", c->seconds);
    fprintf(f, "\"rounds\": %d, ", c->rounds);
    if (c->fps > 0)
        fprintf(f, "\"writer_fps_limit\": %.3f, ", c->fps);
    else
        fprintf(f, "\"writer_fps_limit\": null, ");
    if (c->reader_fps > 0)
        fprintf(f, "\"reader_fps_limit\": %.3f, ", c->reader_fps);
    else
        fprintf(f, "\"reader_fps_limit\": null, ");
    fprintf(f, "\"low_latency\": %s, ", c->low_latency ? "true" : "false");
    fprintf(f, "\"pinned\": %s, ", c->pin ? "true" : "false");
    fprintf(f, "\"loadavg\": %.2f,\n", res->loadavg);
    fputs("  \"memcpy\": ", f);
    if (res->memcpy_done) {
        fprintf(f, "{\"frames\": %" PRIu64 ", ", res->memcpy_frames);
        num(f, "seconds", res->memcpy_seconds, 0);
        num(f, "fps", res->memcpy_fps, 0);
        num(f, "cpu_us_per_frame", res->memcpy_cpu_us_per_frame, 0);
        fprintf(f, "\"warm\": {\"frames\": %" PRIu64 ", ", res->memcpy_warm_frames);
        num(f, "seconds", res->memcpy_warm_seconds, 0);
        num(f, "fps", res->memcpy_warm_fps, 0);
        num(f, "cpu_us_per_frame", res->memcpy_warm_cpu_us_per_frame, 1);
        fputs("}},\n", f);
    } else {
        fputs("null,\n", f);
    }
    json_side(f, "bus", &res->bus, "  ");
    fputs(",\n", f);
    json_side(f, "pipe", &res->pipe, "  ");
    fputs(",\n  \"ratios\": {", f);
    num(f, "bus_pipe", res->bus_pipe, 0);
    num(f, "bus_memcpy", res->bus_memcpy, 0);
    num(f, "bus_memcpy_warm", res->bus_memcpy_warm, 1);
    fputs("}\n}\n", f);
}
