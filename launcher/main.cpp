// poet_dist: the command-line entry point; everything else lives in the libraries.
#include "common/memory_reuse.h"
#include "launcher/cli.h"

int main(int argc, char** argv) {
  poet::keep_freed_memory();
  return poet::run_cli(argc, argv);
}
