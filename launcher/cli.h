// The poet_dist command line: subcommands made with CLI11, each calling into the libraries.
#pragma once

namespace poet {

// Exit codes: 0 success, 1 error (one line on stderr), 2 bad command line, 130 interrupted.
int run_cli(int argc, char** argv);

}  // namespace poet
