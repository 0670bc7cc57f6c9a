/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the framebus tests; see testutil.h.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const fbus_transport tu_transports[2] = {FBUS_TRANSPORT_POSIX, FBUS_TRANSPORT_SYSV};

const char *tu_transport_name(fbus_transport t)
{
    return t == FBUS_TRANSPORT_SYSV ? "sysv" : "posix";
}

char *tu_bus_name(char *buf, size_t size, const char *prefix)
{
    static unsigned counter;

    snprintf(buf, size, "%s-%d-%u", prefix, (int)getpid(), counter++);
    return buf;
}

void tu_bus_cleanup(const char *name)
{
    fbus_unlink(name, FBUS_TRANSPORT_POSIX);
    fbus_unlink(name, FBUS_TRANSPORT_SYSV);
}

int64_t tu_cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * TU_SEC +
           (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

int64_t tu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void tu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A 64-bit mix (splitmix64's finaliser): neighbouring seqs give unrelated
 * words, so a frame torn between two seqs differs from both. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* The pattern of one row: word j is key + j * odd constant. */
static void pattern_row(uint8_t *dst, uint32_t len, uint64_t key)
{
    uint32_t j = 0;

    for (; j + 8 <= len; j += 8) {
        uint64_t v = key + (uint64_t)j * UINT64_C(0x9e3779b97f4a7c15);
        memcpy(dst + j, &v, 8);
    }
    if (j < len) {
        uint64_t v = key + (uint64_t)j * UINT64_C(0x9e3779b97f4a7c15);
        memcpy(dst + j, &v, len - j);
    }
}

static bool pattern_row_ok(const uint8_t *src, uint32_t len, uint64_t key)
{
    uint32_t j = 0;
    uint64_t v, got;

    for (; j + 8 <= len; j += 8) {
        v = key + (uint64_t)j * UINT64_C(0x9e3779b97f4a7c15);
        memcpy(&got, src + j, 8);
        if (got != v)
            return false;
    }
    if (j < len) {
        v = key + (uint64_t)j * UINT64_C(0x9e3779b97f4a7c15);
        if (memcmp(src + j, &v, len - j) != 0)
            return false;
    }
    return true;
}

static uint64_t row_key(uint64_t seq, uint32_t plane, uint32_t row)
{
    return mix64(seq) ^ mix64(((uint64_t)plane << 32 | row) + 1);
}

void tu_fill(fbus_slot *slot, uint64_t seq)
{
    const fbus_format *f = &slot->format;

    for (uint32_t p = 0; p < f->nb_planes && p < FBUS_MAX_PLANES; p++) {
        const fbus_plane *pl = &f->planes[p];
        for (uint32_t r = 0; r < pl->rows; r++)
            pattern_row(slot->data[p] + (size_t)r * pl->stride, pl->row_bytes, row_key(seq, p, r));
    }
}

bool tu_verify(const fbus_frame *frame, uint64_t seq)
{
    const fbus_format *f = &frame->format;

    if (f->nb_planes == 0 || f->nb_planes > FBUS_MAX_PLANES)
        return false;
    for (uint32_t p = 0; p < f->nb_planes; p++) {
        const fbus_plane *pl = &f->planes[p];
        if (!frame->data[p])
            return false;
        for (uint32_t r = 0; r < pl->rows; r++)
            if (!pattern_row_ok(frame->data[p] + (size_t)r * pl->stride, pl->row_bytes,
                                row_key(seq, p, r)))
                return false;
    }
    return true;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint64_t tu_checksum(const uint8_t *const *data, const fbus_format *fmt)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (uint32_t p = 0; p < fmt->nb_planes && p < FBUS_MAX_PLANES; p++) {
        const fbus_plane *pl = &fmt->planes[p];
        for (uint32_t r = 0; r < pl->rows; r++)
            h = fnv1a(h, data[p] + (size_t)r * pl->stride, pl->row_bytes);
    }
    return h;
}

uint64_t tu_pattern_checksum(const fbus_format *fmt, uint64_t seq)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    uint8_t *row = NULL;
    size_t cap = 0;

    for (uint32_t p = 0; p < fmt->nb_planes && p < FBUS_MAX_PLANES; p++) {
        const fbus_plane *pl = &fmt->planes[p];
        if (pl->row_bytes > cap) {
            uint8_t *n = realloc(row, pl->row_bytes);
            if (!n)
                break;
            row = n;
            cap = pl->row_bytes;
        }
        for (uint32_t r = 0; r < pl->rows; r++) {
            pattern_row(row, pl->row_bytes, row_key(seq, p, r));
            h = fnv1a(h, row, pl->row_bytes);
        }
    }
    free(row);
    return h;
}

int tu_publish(fbus_writer *w, const fbus_format *fmt, int64_t timeout_ns, uint64_t *seq_out)
{
    fbus_slot slot;
    int rc = fbus_writer_acquire(w, fmt, timeout_ns, &slot);

    if (rc != 0)
        return rc;
    tu_fill(&slot, slot.seq);
    if (seq_out)
        *seq_out = slot.seq;
    return fbus_writer_publish(w, &slot, NULL);
}

/* Children of tu_fork not reaped yet, for tu_kill_children. */
static pid_t children[64];

static void forget_child(pid_t pid)
{
    for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
        if (children[i] == pid)
            children[i] = 0;
}

pid_t tu_fork(tu_child_fn fn, void *arg, unsigned timeout_s)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        memset(children, 0, sizeof(children));
        signal(SIGALRM, SIG_DFL);
        alarm(timeout_s);
        _exit(fn(arg) & 0xff);
    }
    for (size_t i = 0; pid > 0 && i < sizeof(children) / sizeof(children[0]); i++) {
        if (children[i] == 0) {
            children[i] = pid;
            break;
        }
    }
    return pid;
}

void tu_kill_children(void)
{
    for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            kill(children[i], SIGCONT);
            while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR)
                ;
            children[i] = 0;
        }
    }
}

int tu_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            forget_child(pid);
            return -1;
        }
        if (tu_now_ns() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            forget_child(pid);
            return -1;
        }
        tu_sleep_ms(2);
    }
    forget_child(pid);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int tu_become(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
    if (setgroups((size_t)ngroups, groups) != 0)
        return -errno;
    if (setgid(gid) != 0)
        return -errno;
    if (setuid(uid) != 0)
        return -errno;
    return 0;
}

int tu_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPIPE ? -EPIPE : -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tu_recv(int fd, void *buf, size_t len, int timeout_ms)
{
    int64_t deadline = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
    uint8_t *p = buf;

    while (len > 0) {
        int64_t left = (deadline - tu_now_ns()) / TU_MS;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r;
        ssize_t n;

        if (left < 0)
            return -ETIMEDOUT;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int map_posix(const char *name, tu_region *reg)
{
    char path[FBUS_NAME_MAX + 16];
    struct stat st;
    void *p;
    int fd;

    snprintf(path, sizeof(path), "/framebus.%s", name);
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return -EINVAL;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int err = -errno;
        close(fd);
        return err;
    }
    reg->base = p;
    reg->size = (size_t)st.st_size;
    reg->fd = fd;
    return 0;
}

/* SysV segments carry no name, so look for the segment of this user whose
 * header names the bus; of several (a stale one taken over), the newest. */
static int map_sysv(const char *name, tu_region *reg)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    char line[512];
    int best = -1;
    time_t best_ctime = 0;

    if (!f)
        return -errno;
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return -ENOENT;
    }
    while (fgets(line, sizeof(line), f)) {
        long long key;
        int shmid;
        struct shmid_ds ds;
        uint8_t *p;
        int match;

        if (sscanf(line, "%lld %d", &key, &shmid) != 2 || key == 0)
            continue;
        if (shmctl(shmid, IPC_STAT, &ds) != 0 || ds.shm_perm.uid != geteuid())
            continue;
        if (ds.shm_segsz < TU_HEADER_NAME_OFFSET + FBUS_NAME_MAX + 1)
            continue;
        p = shmat(shmid, NULL, SHM_RDONLY);
        if (p == (void *)-1)
            continue;
        match = memcmp(p, "FFREBUS1", 8) == 0 &&
                strncmp((const char *)p + TU_HEADER_NAME_OFFSET, name, FBUS_NAME_MAX + 1) == 0;
        shmdt(p);
        if (match && (best < 0 || ds.shm_ctime >= best_ctime)) {
            best = shmid;
            best_ctime = ds.shm_ctime;
        }
    }
    fclose(f);
    if (best < 0)
        return -ENOENT;
    {
        struct shmid_ds ds;
        void *p;

        if (shmctl(best, IPC_STAT, &ds) != 0)
            return -errno;
        p = shmat(best, NULL, 0);
        if (p == (void *)-1)
            return -errno;
        reg->base = p;
        reg->size = ds.shm_segsz;
        reg->shmid = best;
    }
    return 0;
}

int tu_region_map(const char *name, fbus_transport t, tu_region *reg)
{
    memset(reg, 0, sizeof(*reg));
    reg->fd = -1;
    reg->shmid = -1;
    reg->transport = t;
    return t == FBUS_TRANSPORT_SYSV ? map_sysv(name, reg) : map_posix(name, reg);
}

void tu_region_unmap(tu_region *reg)
{
    if (reg->base) {
        if (reg->shmid >= 0)
            shmdt(reg->base);
        else
            munmap(reg->base, reg->size);
    }
    if (reg->fd >= 0)
        close(reg->fd);
    reg->base = NULL;
    reg->fd = -1;
    reg->shmid = -1;
}

int tu_fixture_setup(void **state, const char *prefix)
{
    struct tu_fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    tu_bus_name(f->name, sizeof(f->name), prefix);
    if (fbus_format_init(&f->fmt, "gray", 64, 64, 0) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int tu_fixture_teardown(void **state)
{
    struct tu_fixture *f = *state;

    alarm(0); /* also stops a test's interval timer */
    signal(SIGALRM, SIG_DFL);
    tu_kill_children();
    tu_bus_cleanup(f->name);
    free(f);
    return 0;
}
