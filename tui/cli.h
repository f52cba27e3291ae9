/* cli.h: the command line: subcommands, options, exit codes. */
#ifndef CW_CLI_H
#define CW_CLI_H

int cli_main(int argc, char **argv);

#endif
