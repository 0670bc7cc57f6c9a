/* SPDX-License-Identifier: MIT */
/*
 * The framebus command: global options, then one subcommand (list, stat,
 * rm, cat, put, bench, help), each in its own file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

#ifndef FBUS_TOOLS_VERSION
#define FBUS_TOOLS_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
    {"list", cmd_list}, {"ls", cmd_list}, {"stat", cmd_stat},   {"rm", cmd_rm},
    {"cat", cmd_cat},   {"put", cmd_put}, {"bench", cmd_bench},
};

static int help(int argc, char **argv)
{
    if (argc < 2) {
        tool_help(NULL, stdout);
        return TOOL_EXIT_OK;
    }
    if (tool_help(argv[1], stdout) < 0)
        return tool_usage_error(NULL, "no such command \"%s\"", argv[1]);
    return TOOL_EXIT_OK;
}

/* Every byte of output must have arrived: a write error (a full disk) turns
 * a success into one message and status 1. A closed pipe is the reader's
 * choice (`stat --watch | head -3`), not an error. */
static int finish(const char *cmd, int rc)
{
    int err = tool_stdout_error();

    if (err && err != EPIPE && rc == TOOL_EXIT_OK) {
        tool_error(cmd, "writing to stdout: %s", strerror(err));
        return TOOL_EXIT_ERROR;
    }
    return rc;
}

static int run(int argc, char **argv, const char **cmd)
{
    const char *transport = NULL;
    char **sub = NULL;
    int i = 1, n, rc;

    /* Global options come before the command. */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            tool_help(NULL, stdout);
            return TOOL_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            /* The shared-memory layout's version comes from the library
             * actually loaded: buses of another layout cannot be read. */
            printf("framebus %s (libframebus %d.%d, bus layout %u)\n", FBUS_TOOLS_VERSION,
                   FBUS_VERSION_MAJOR, FBUS_VERSION_MINOR, fbus_layout_version());
            return TOOL_EXIT_OK;
        }
        if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc) {
            fbus_transport t;
            if (tool_parse_transport(argv[i + 1], &t) < 0)
                return tool_usage_error(NULL, "unknown transport \"%s\" (posix or sysv)",
                                        argv[i + 1]);
            transport = argv[i + 1];
            i += 2;
            continue;
        }
        if (strncmp(argv[i], "--transport=", 12) == 0) {
            fbus_transport t;
            if (tool_parse_transport(argv[i] + 12, &t) < 0)
                return tool_usage_error(NULL, "unknown transport \"%s\" (posix or sysv)",
                                        argv[i] + 12);
            transport = argv[i] + 12;
            i++;
            continue;
        }
        if (strcmp(argv[i], "--transport") == 0)
            return tool_usage_error(NULL, "option \"--transport\" needs a value");
        return tool_usage_error(NULL, "unknown option \"%s\"", argv[i]);
    }
    if (i >= argc)
        return tool_usage_error(NULL, "which command?");
    if (strcmp(argv[i], "help") == 0)
        return help(argc - i, argv + i);

    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(commands[c].name, argv[i]) != 0)
            continue;
        /* The subcommand sees the global --transport as its own option,
         * right after its name. */
        n = argc - i;
        sub = calloc((size_t)n + 3, sizeof(*sub));
        if (!sub) {
            tool_error(NULL, "out of memory");
            return TOOL_EXIT_ERROR;
        }
        sub[0] = argv[i];
        *cmd = commands[c].name;
        rc = 1;
        if (transport) {
            sub[rc++] = "--transport";
            sub[rc++] = (char *)transport;
        }
        memcpy(sub + rc, argv + i + 1, (size_t)(n - 1) * sizeof(*sub));
        rc = commands[c].fn(rc + n - 1, sub);
        free(sub);
        return rc;
    }
    return tool_usage_error(NULL, "no such command \"%s\"", argv[i]);
}

int main(int argc, char **argv)
{
    const char *cmd = NULL;
    int rc = run(argc, argv, &cmd);

    return finish(cmd, rc);
}
