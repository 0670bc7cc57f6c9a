/* SPDX-License-Identifier: MIT */
/*
 * GstMemory over bytes the plugin only borrows from the bus (a reader's
 * frame, a writer's slot). The element that lent it can take the bytes back
 * at any time: detaching copies them into private memory first, so a buffer
 * that outlives the loan still reads what it read before.
 */
#ifndef GST_FRAMEBUS_LENTMEM_H
#define GST_FRAMEBUS_LENTMEM_H

#include <gst/gst.h>

G_BEGIN_DECLS

/* Memory over size bytes at data (shared memory the caller keeps mapped
 * until it detaches or the memory is freed). readonly: no write maps. */
GstMemory *gst_framebus_lent_memory_new(guint8 *data, gsize size, gboolean readonly);

/* Whether mem is one of ours (and still points into shared memory). */
gboolean gst_framebus_lent_memory_is_lent(GstMemory *mem);

/* The shared-memory address it lends, or NULL once detached. */
const guint8 *gst_framebus_lent_memory_shm(GstMemory *mem);

/*
 * Copy the bytes into private memory and stop pointing at shared memory.
 * Waits up to wait_us for maps in progress to end (a map hands out the
 * address, so the bytes cannot be taken back under it); after that it
 * detaches anyway and returns FALSE: the mapper may then see the bytes
 * change. TRUE otherwise (also when already detached).
 */
gboolean gst_framebus_lent_memory_detach(GstMemory *mem, gint64 wait_us);

G_END_DECLS

#endif
