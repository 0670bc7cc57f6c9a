/* SPDX-License-Identifier: MIT */
/*
 * A GstAllocator for memory the plugin borrows from the bus. Maps are
 * counted so that detaching, which copies the bytes out before the slot goes
 * back to the bus, never pulls them from under a map in progress.
 */
#include <string.h>

#include "lentmem.h"

typedef struct {
    GstMemory mem;
    GMutex lock;
    GCond cond;
    guint8 *shm;  /* borrowed bytes, NULL once detached */
    guint8 *copy; /* private bytes after detaching */
    gint maps;    /* maps not yet unmapped */
} LentMemory;

typedef struct {
    GstAllocator parent;
} GstFramebusLentAllocator;

typedef struct {
    GstAllocatorClass parent_class;
} GstFramebusLentAllocatorClass;

#define LENT_MEMORY_TYPE "FramebusLent"

GType gst_framebus_lent_allocator_get_type(void);
G_DEFINE_TYPE(GstFramebusLentAllocator, gst_framebus_lent_allocator, GST_TYPE_ALLOCATOR)

static GstMemory *lent_alloc(GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
    return NULL; /* only gst_framebus_lent_memory_new makes these */
}

static void lent_free(GstAllocator *allocator, GstMemory *mem)
{
    LentMemory *m = (LentMemory *)mem;

    g_free(m->copy);
    g_mutex_clear(&m->lock);
    g_cond_clear(&m->cond);
    g_slice_free(LentMemory, m);
}

static gpointer lent_map(GstMemory *mem, gsize maxsize, GstMapFlags flags)
{
    LentMemory *m = (LentMemory *)mem;
    gpointer p;

    g_mutex_lock(&m->lock);
    m->maps++;
    p = m->shm ? m->shm : m->copy;
    g_mutex_unlock(&m->lock);
    return p;
}

static void lent_unmap(GstMemory *mem)
{
    LentMemory *m = (LentMemory *)mem;

    g_mutex_lock(&m->lock);
    if (m->maps > 0 && --m->maps == 0)
        g_cond_broadcast(&m->cond);
    g_mutex_unlock(&m->lock);
}

/* Copies are plain system memory: they own their bytes. */
static GstMemory *lent_copy(GstMemory *mem, gssize offset, gssize size)
{
    GstMemory *out;
    GstMapInfo src, dst;

    if (size == -1)
        size = mem->size > (gsize)offset ? mem->size - offset : 0;
    out = gst_allocator_alloc(NULL, size, NULL);
    if (!out)
        return NULL;
    if (!gst_memory_map(mem, &src, GST_MAP_READ)) {
        gst_memory_unref(out);
        return NULL;
    }
    if (gst_memory_map(out, &dst, GST_MAP_WRITE)) {
        memcpy(dst.data, src.data + offset, size);
        gst_memory_unmap(out, &dst);
    }
    gst_memory_unmap(mem, &src);
    return out;
}

static GstMemory *lent_share(GstMemory *mem, gssize offset, gssize size)
{
    return NULL; /* GST_MEMORY_FLAG_NO_SHARE: buffers copy instead */
}

static void gst_framebus_lent_allocator_class_init(GstFramebusLentAllocatorClass *klass)
{
    GstAllocatorClass *ac = GST_ALLOCATOR_CLASS(klass);

    ac->alloc = lent_alloc;
    ac->free = lent_free;
}

static void gst_framebus_lent_allocator_init(GstFramebusLentAllocator *self)
{
    GstAllocator *a = GST_ALLOCATOR_CAST(self);

    a->mem_type = LENT_MEMORY_TYPE;
    a->mem_map = lent_map;
    a->mem_unmap = lent_unmap;
    a->mem_copy = lent_copy;
    a->mem_share = lent_share;
    GST_OBJECT_FLAG_SET(self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

static GstAllocator *lent_allocator(void)
{
    static GstAllocator *allocator;

    if (g_once_init_enter(&allocator)) {
        GstAllocator *a = g_object_new(gst_framebus_lent_allocator_get_type(), NULL);
        /* Lives as long as the process, like GStreamer's own allocators. */
        gst_object_ref_sink(a);
        GST_OBJECT_FLAG_SET(a, GST_OBJECT_FLAG_MAY_BE_LEAKED);
        g_once_init_leave(&allocator, a);
    }
    return allocator;
}

GstMemory *gst_framebus_lent_memory_new(guint8 *data, gsize size, gboolean readonly)
{
    LentMemory *m = g_slice_new0(LentMemory);
    GstMemoryFlags flags = GST_MEMORY_FLAG_NO_SHARE;

    if (readonly)
        flags |= GST_MEMORY_FLAG_READONLY;
    gst_memory_init(&m->mem, flags, lent_allocator(), NULL, size, 0, 0, size);
    g_mutex_init(&m->lock);
    g_cond_init(&m->cond);
    m->shm = data;
    return &m->mem;
}

static gboolean is_ours(GstMemory *mem)
{
    return mem && gst_memory_is_type(mem, LENT_MEMORY_TYPE);
}

gboolean gst_framebus_lent_memory_is_lent(GstMemory *mem)
{
    return gst_framebus_lent_memory_shm(mem) != NULL;
}

const guint8 *gst_framebus_lent_memory_shm(GstMemory *mem)
{
    LentMemory *m = (LentMemory *)mem;
    const guint8 *p;

    if (!is_ours(mem))
        return NULL;
    g_mutex_lock(&m->lock);
    p = m->shm;
    g_mutex_unlock(&m->lock);
    return p;
}

gboolean gst_framebus_lent_memory_detach(GstMemory *mem, gint64 wait_us)
{
    LentMemory *m = (LentMemory *)mem;
    gint64 end = g_get_monotonic_time() + wait_us;
    gboolean clean = TRUE;

    if (!is_ours(mem))
        return TRUE;
    g_mutex_lock(&m->lock);
    while (m->shm && m->maps > 0) {
        if (!g_cond_wait_until(&m->cond, &m->lock, end)) {
            clean = m->maps == 0;
            break;
        }
    }
    if (m->shm) {
        m->copy = g_malloc(m->mem.maxsize);
        memcpy(m->copy, m->shm, m->mem.maxsize);
        m->shm = NULL;
    }
    g_mutex_unlock(&m->lock);
    return clean;
}
