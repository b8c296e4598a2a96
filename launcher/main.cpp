// poet_dist: the command-line entry point; everything else lives in the libraries.
#include "launcher/cli.h"

int main(int argc, char** argv) { return poet::run_cli(argc, argv); }
