/* SPDX-License-Identifier: MIT */
/*
 * Looking at buses from outside: listing them, reading one's state without
 * joining it, and removing a name.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

FBUS_EXTERN int fbus_stat(const char *name, fbus_transport transport, fbus_stats *st)
{
    struct fbus__region rg;
    struct fbus__header *h;
    int64_t now = fbus_now_ns();
    uint64_t c, newest, last;
    int err, status;

    if (!st)
        return -EINVAL;
    err = fbus_name_check(name);
    if (err < 0)
        return err;
    err = fbus__region_attach(name, transport, 0, &rg);
    if (err == -EAGAIN)
        err = -ENOENT; /* still being created */
    if (err < 0)
        return err;
    h = rg.hdr;
    memset(st, 0, sizeof(*st));
    strcpy(st->name, name);
    st->transport = transport;
    status = fbus__producer_status(&rg, FBUS__PRODUCER_TIMEOUT_NS, now);
    st->state = status == FBUS__STATE_LIVE || status == FBUS__STATE_STALLED ? FBUS_STATE_LIVE
                : status == 0                                               ? FBUS_STATE_DEAD
                                                                            : FBUS_STATE_ENDED;
    st->producer_pid = rg.producer_pid;
    st->uid = rg.map.uid;
    st->mode = rg.map.mode;
    st->session = rg.session;
    st->region_size = rg.map.size;
    st->slots = rg.slot_count;
    st->slot_size = rg.slot_capacity;
    st->frames = atomic_load_explicit(&h->frames, memory_order_relaxed);
    st->writer_waits = atomic_load_explicit(&h->writer_waits, memory_order_relaxed);
    st->forced = atomic_load_explicit(&h->forced, memory_order_relaxed);
    st->reserve_expired = atomic_load_explicit(&h->reserve_expired, memory_order_relaxed);
    st->demotions = atomic_load_explicit(&h->demotions, memory_order_relaxed);
    st->fps = (double)atomic_load_explicit(&h->fps_milli, memory_order_relaxed) / 1000.0;
    st->heartbeat_age_ns =
        fbus__age_ns(now, atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed));
    last = (uint64_t)atomic_load_explicit(&h->last_publish_ns, memory_order_relaxed);
    st->last_publish_age_ns = last ? fbus__age_ns(now, (int64_t)last) : -1;

    c = atomic_load_explicit(&h->cursor, memory_order_acquire);
    newest = FBUS__CURSOR_SEQ(c);
    if (c && FBUS__CURSOR_SLOT(c) < rg.slot_count) {
        const struct fbus__slot_desc *d = fbus__desc(&rg, FBUS__CURSOR_SLOT(c));
        fbus_format f;
        memcpy(&f, &d->format, sizeof(f));
        if (fbus_format_check(&f, rg.slot_capacity) == 0)
            st->format = f;
    }
    for (uint32_t i = 0; i < rg.reader_count && st->nb_readers < FBUS_MAX_READERS; i++) {
        const struct fbus__reader_entry *e = &rg.readers[i];
        fbus_reader_info *ri;
        uint64_t consumed;

        if (FBUS__ENTRY_KIND(atomic_load_explicit(&e->state, memory_order_acquire)) !=
            FBUS__ENTRY_ACTIVE)
            continue;
        ri = &st->readers[st->nb_readers++];
        ri->pid = atomic_load_explicit(&e->pid, memory_order_relaxed);
        ri->policy = atomic_load_explicit(&e->policy, memory_order_relaxed) == FBUS_POLICY_LOSSLESS
                         ? FBUS_POLICY_LOSSLESS
                         : FBUS_POLICY_LATEST;
        ri->frames = atomic_load_explicit(&e->frames, memory_order_relaxed);
        ri->overruns = atomic_load_explicit(&e->overruns, memory_order_relaxed);
        ri->drops = atomic_load_explicit(&e->drops, memory_order_relaxed);
        consumed = atomic_load_explicit(&e->consumed, memory_order_relaxed);
        ri->lag = consumed > newest ? 0 : newest - consumed;
        ri->idle_ns =
            fbus__age_ns(now, atomic_load_explicit(&e->heartbeat_ns, memory_order_relaxed));
        ri->alive = fbus__entry_alive(&rg, i);
        ri->demoted = atomic_load_explicit(&e->demoted, memory_order_relaxed) ==
                      FBUS__DEMOTED(atomic_load_explicit(&e->state, memory_order_relaxed));
    }
    fbus__region_detach(&rg);
    return 0;
}

FBUS_EXTERN int fbus_unlink(const char *name, fbus_transport transport)
{
    const struct fbus__transport *tp = fbus__transport_get(transport);
    int err = fbus_name_check(name);

    if (err < 0)
        return err;
    if (!tp)
        return -EINVAL;
    return tp->unlink(name, NULL);
}
