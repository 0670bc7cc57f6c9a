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

#endif /* FBUS_TOOLS_TOOLS_H */
