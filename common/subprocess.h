// Running another program (Slurm's sbatch, squeue, scancel, scontrol, ...) without a shell:
// arguments go to execvp as they are, so no value is ever interpreted by a shell.
#pragma once

#include <string>
#include <vector>

namespace poet {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed; 127 when the program could not be started
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up on PATH) with argv, waits, and returns its exit code and output.
ProcessResult run_process(const std::vector<std::string>& argv);

// The full path of `program` on PATH, or "" when it is not there.
std::string find_on_path(const std::string& program);

}  // namespace poet
