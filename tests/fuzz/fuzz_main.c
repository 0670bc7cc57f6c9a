/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for libFuzzer's main, so the fuzz targets also build with gcc and
 * run under ctest: feed LLVMFuzzerTestOneInput every file of the directories
 * (or files) given on the command line, or of FUZZ_CORPUS_DIR without
 * arguments, in name order. A crash or abort fails the run like it would
 * under libFuzzer; the input being run is printed first.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1u << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "fuzz replay: cannot open %s\n", path);
        return -1;
    }
    buf = malloc(REPLAY_MAX_INPUT);
    if (!buf) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, REPLAY_MAX_INPUT, f);
    fclose(f);
    fprintf(stderr, "fuzz replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run every regular file of dir: the count run, or -1. */
static int run_dir(const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name), done = 0;

    if (n < 0) {
        fprintf(stderr, "fuzz replay: cannot read directory %s\n", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path) == 0)
            done++;
        free(list[i]);
    }
    free(list);
    return done;
}

int main(int argc, char **argv)
{
    int total = 0;

    for (int i = 1; i < argc || (argc == 1 && i == 1); i++) {
        const char *arg = argc > 1 ? argv[i] : FUZZ_CORPUS_DIR;
        struct stat st;
        int n;

        if (stat(arg, &st) != 0) {
            fprintf(stderr, "fuzz replay: no such file or directory: %s\n", arg);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(arg) : run_file(arg) == 0 ? 1 : -1;
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "fuzz replay: no inputs\n");
        return 1;
    }
    fprintf(stderr, "fuzz replay: %d inputs, no crash\n", total);
    return 0;
}
