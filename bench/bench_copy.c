/* SPDX-License-Identifier: MIT */
/*
 * Why fbus_copy() streams: the cost of copying frames into three rotating
 * slots of a shared mapping, with plain memcpy and with fbus_copy(), alone
 * and while a reader process on the other core sums each newest slot (as a
 * bus reader does). Rounds alternate between the two copies; the report
 * gives the median time per frame of each and their ratio.
 *   bench_copy [FRAME-BYTES [FRAMES-PER-ROUND]]   (default 3110400, 200)
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <framebus/framebus.h>

#define SLOTS  3
#define POOL   4
#define ROUNDS 9

struct shared {
    _Atomic uint64_t newest; /* frames written so far; slot = (newest - 1) % SLOTS */
    _Atomic int stop;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The reader: sum every newest slot once, as a checksumming bus reader does. */
static void reader(struct shared *sh, const uint8_t *slots, size_t size)
{
    uint64_t seen = 0, sum = 0;

    while (!atomic_load(&sh->stop)) {
        uint64_t n = atomic_load_explicit(&sh->newest, memory_order_acquire);
        const uint64_t *p;

        if (n == seen)
            continue;
        seen = n;
        p = (const uint64_t *)(slots + ((n - 1) % SLOTS) * size);
        for (size_t i = 0; i < size / 8; i++)
            sum += p[i];
    }
    _exit(sum == 42); /* keep the sum alive */
}

/* Microseconds per frame for `frames` copies into the rotating slots. */
static double round_us(struct shared *sh, uint8_t *slots, uint8_t *const pool[], size_t size,
                       int frames, int streaming)
{
    int64_t t0 = fbus_now_ns();

    for (int i = 0; i < frames; i++) {
        uint64_t n = atomic_load_explicit(&sh->newest, memory_order_relaxed) + 1;
        uint8_t *dst = slots + ((n - 1) % SLOTS) * size;

        if (streaming)
            fbus_copy(dst, pool[n % POOL], size);
        else
            memcpy(dst, pool[n % POOL], size);
        atomic_store_explicit(&sh->newest, n, memory_order_release);
    }
    return (double)(fbus_now_ns() - t0) / 1e3 / frames;
}

static int measure(const char *what, size_t size, int frames, int with_reader)
{
    struct shared *sh;
    uint8_t *slots, *pool[POOL] = {NULL};
    int64_t plain[ROUNDS], stream[ROUNDS];
    pid_t pid = -1;
    int rc = 1;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    slots = mmap(NULL, SLOTS * size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || slots == MAP_FAILED) {
        perror("bench_copy: mmap");
        return 1;
    }
    memset(slots, 1, SLOTS * size); /* fault the pages in */
    for (int k = 0; k < POOL; k++) {
        pool[k] = malloc(size);
        if (!pool[k]) {
            fprintf(stderr, "bench_copy: out of memory\n");
            goto out;
        }
        memset(pool[k], 3 + k, size);
    }
    if (with_reader) {
        pid = fork();
        if (pid < 0) {
            perror("bench_copy: fork");
            goto out;
        }
        if (pid == 0)
            reader(sh, slots, size);
    }
    for (int r = 0; r < ROUNDS; r++) {
        plain[r] = (int64_t)(round_us(sh, slots, pool, size, frames, 0) * 1000);
        stream[r] = (int64_t)(round_us(sh, slots, pool, size, frames, 1) * 1000);
    }
    qsort(plain, ROUNDS, sizeof(plain[0]), cmp_i64);
    qsort(stream, ROUNDS, sizeof(stream[0]), cmp_i64);
    printf("%-12s %9zu bytes  memcpy %8.1f us  fbus_copy %8.1f us  memcpy/fbus_copy %.2f\n", what,
           size, plain[ROUNDS / 2] / 1000.0, stream[ROUNDS / 2] / 1000.0,
           (double)plain[ROUNDS / 2] / (double)stream[ROUNDS / 2]);
    rc = 0;
out:
    atomic_store(&sh->stop, 1);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    for (int k = 0; k < POOL; k++)
        free(pool[k]);
    munmap(slots, SLOTS * size);
    munmap(sh, sizeof(*sh));
    return rc;
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoull(argv[1], NULL, 10) : 3110400;
    int frames = argc > 2 ? atoi(argv[2]) : 200;

    if (size < 64 || size > (1u << 30) || frames < 1) {
        fprintf(stderr, "usage: bench_copy [FRAME-BYTES [FRAMES-PER-ROUND]]\n");
        return 2;
    }
    printf("bench_copy: %d rounds of %d frames, 3 slots; medians\n", ROUNDS, frames);
    if (measure("alone", size, frames, 0) || measure("with reader", size, frames, 1))
        return 1;
    return 0;
}
