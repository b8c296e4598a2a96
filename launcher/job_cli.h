// The Slurm subcommands of the command line: submit, jobs, cancel and logs.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>
#include <string>

#include "launcher/slurm_jobs.h"

namespace poet {

struct JobCommands {
  SubmitOptions submit;
  std::string run_root = "runs";
  std::string job_id;
  bool follow = false;
  CLI::App* submit_cmd = nullptr;
  CLI::App* jobs_cmd = nullptr;
  CLI::App* cancel_cmd = nullptr;
  CLI::App* logs_cmd = nullptr;
};

void add_job_commands(CLI::App& app, JobCommands& c);

// Runs the job subcommand that was given; false when none was.
bool run_job_command(JobCommands& c, std::ostream& out);

}  // namespace poet
