/* SPDX-License-Identifier: MIT */
/*
 * The framebus command's subcommands (one file each) and their help texts.
 */
#ifndef FBUS_TOOLS_TOOLS_H
#define FBUS_TOOLS_TOOLS_H

#include "cli.h"

/* Subcommands; argv[0] is the subcommand's name. Each returns the exit code
 * (TOOL_EXIT_*). */
int cmd_list(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Help texts (help.c). Print the usage of cmd (NULL: the overview) to f;
 * returns 0, or -1 if there is no such command. */
int tool_help(const char *cmd, void *f);

/* What every subcommand's getopt loop does with the options they share:
 * 'T' (--transport: *t, and *t_set = 1 if t_set is not NULL), 'h' (--help)
 * and anything unknown. Returns -1 if parsing goes on, else the exit code
 * to return. Call it from the loop's default case. */
int tool_common_option(const char *cmd, char **argv, int opt, fbus_transport *t, int *t_set);

/* A subcommand's flag: --name (or -c, if c is not 0) sets *set to 1. */
typedef struct tool_flag {
    const char *name;
    char c;
    int *set;
} tool_flag;

/* Parse a command line of flags (a table ended by a NULL name) plus the
 * shared options (tool_common_option). Returns -1 with optind at the first
 * operand, or the exit code to return. */
int tool_parse_flags(const char *cmd, int argc, char **argv, const tool_flag *flags,
                     fbus_transport *t, int *t_set);

#endif /* FBUS_TOOLS_TOOLS_H */
