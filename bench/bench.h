/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: one writer and N reader processes over a fresh bus, the same
 * workload over Unix pipes, and the memcpy rate of one frame, in one run.
 */
#ifndef FBUS_BENCH_BENCH_H
#define FBUS_BENCH_BENCH_H

/* `framebus bench ...`; argv[0] is "bench". Returns the exit code. */
int cmd_bench(int argc, char **argv);

#endif /* FBUS_BENCH_BENCH_H */
