// The Slurm batch script of a training job, as `poet_dist submit` writes it. Every value that
// reaches the script is validated or single-quoted; the job name never enters it (it goes to
// sbatch's argv), so no submitted text is ever run by a shell.
#pragma once

#include <string>
#include <vector>

namespace poet {

struct JobRequest {
  std::string binary;                  // absolute path of poet_dist
  std::string config;                  // absolute path of the TOML config
  std::string data;                    // absolute path of the dataset ("": the config's data.path)
  std::vector<std::string> overrides;  // --set section.key=value, passed on
  std::string name;                    // the job's name: any text
  std::string run_dir;                 // absolute; letters, digits and . _ - / only
  int nodes = 1;
  int gpus_per_node = 0;
  int tasks_per_node = 0;  // 0: one a GPU, or 1 without GPUs
  int cpus_per_task = 0;   // 0: Slurm's default
  std::string time;        // "" or Slurm's forms: MM, HH:MM:SS, D-HH:MM:SS, ...
  std::string partition;
  std::string account;
  std::string signal = "USR1";  // USR1 or USR2: sent signal_seconds before the time limit
  int signal_seconds = 120;
  std::string launcher = "srun";  // srun (--mpi=pmix) or mpirun inside the allocation
  std::string commit;             // the source commit, recorded in the script's header
};

// Throws poet::Error naming the option and what was expected.
void validate_job_request(const JobRequest& job);

std::string render_batch_script(const JobRequest& job);

// 'text' for a POSIX shell: single quotes, each ' written as '\''.
std::string shell_quote(const std::string& text);

// `name` reduced to letters, digits, '.', '_' and '-' (others become '_'), for a folder name.
std::string safe_file_name(const std::string& name);

}  // namespace poet
