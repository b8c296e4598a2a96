// render_batch_script(): the #SBATCH header, then the launch by srun or by mpirun.
#include "launcher/batch_script.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <sstream>

#include "common/error.h"

namespace poet {

namespace {

bool matches(const std::string& text, const char* pattern) { return std::regex_match(text, std::regex(pattern)); }

}  // namespace

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string safe_file_name(const std::string& name) {
  std::string safe;
  for (unsigned char c : name) safe += std::isalnum(c) || c == '.' || c == '_' || c == '-' ? static_cast<char>(c) : '_';
  if (safe.empty() || safe[0] == '.') safe = "job" + safe;
  return safe;
}

void validate_job_request(const JobRequest& job) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) throw Error(what);
  };
  require(job.nodes >= 1, "--nodes is " + std::to_string(job.nodes) + ", expected at least 1");
  require(job.gpus_per_node >= 0, "--gpus-per-node must be >= 0");
  require(job.tasks_per_node >= 0, "--tasks-per-node must be >= 0");
  require(job.cpus_per_task >= 0, "--cpus-per-task must be >= 0");
  require(job.time.empty() || matches(job.time, R"((\d+-)?\d+(:\d+){0,2})"),
          "--time is '" + job.time + "', expected minutes, HH:MM:SS or D-HH:MM:SS");
  require(job.partition.empty() || matches(job.partition, R"([A-Za-z0-9_.,-]+)"),
          "--partition is '" + job.partition + "', expected letters, digits, '_', '.', '-' (and ',' between names)");
  require(job.account.empty() || matches(job.account, R"([A-Za-z0-9_.-]+)"),
          "--account is '" + job.account + "', expected letters, digits, '_', '.' or '-'");
  require(job.signal == "USR1" || job.signal == "USR2", "--signal is '" + job.signal + "', expected USR1 or USR2");
  require(job.signal_seconds >= 1 && job.signal_seconds <= 65535, "--signal-seconds must be within 1..65535");
  require(job.launcher == "srun" || job.launcher == "mpirun",
          "--launcher is '" + job.launcher + "', expected srun or mpirun");
  // #SBATCH --output takes the run directory unquoted: keep it to characters sbatch reads plainly.
  require(matches(job.run_dir, R"(/[A-Za-z0-9_./-]*)"),
          "the run directory '" + job.run_dir + "' must be an absolute path of letters, digits, '_', '.', '-' and '/'");
}

std::string render_batch_script(const JobRequest& job) {
  validate_job_request(job);
  const int tasks_per_node = job.tasks_per_node > 0 ? job.tasks_per_node : std::max(1, job.gpus_per_node);
  const bool srun = job.launcher == "srun";
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# A poet_dist training job, written by `poet_dist submit` from commit " << job.commit << ".\n"
    << "# " << job.nodes << (job.nodes == 1 ? " node" : " nodes") << " x " << tasks_per_node << " ranks, started by "
    << (srun ? "srun --mpi=pmix" : "mpirun inside the allocation") << ". " << job.signal << " " << job.signal_seconds
    << " s before the time limit (or TERM):\n"
    << "# the ranks checkpoint at the next step boundary and the job requeues itself; a requeued\n"
    << "# job resumes from the newest checkpoint in its run directory.\n";
  s << "#SBATCH --nodes=" << job.nodes << "\n";
  s << "#SBATCH --ntasks-per-node=" << tasks_per_node << "\n";
  if (job.gpus_per_node > 0) s << "#SBATCH --gpus-per-node=" << job.gpus_per_node << "\n";
  if (job.cpus_per_task > 0) s << "#SBATCH --cpus-per-task=" << job.cpus_per_task << "\n";
  if (!job.time.empty()) s << "#SBATCH --time=" << job.time << "\n";
  if (!job.partition.empty()) s << "#SBATCH --partition=" << job.partition << "\n";
  if (!job.account.empty()) s << "#SBATCH --account=" << job.account << "\n";
  // srun's ranks are job steps and get the signal from Slurm; mpirun's are not, so mpirun, as
  // the batch shell (B:), takes it.
  s << "#SBATCH --signal=" << (srun ? "" : "B:") << job.signal << "@" << job.signal_seconds << "\n";
  s << "#SBATCH --requeue\n#SBATCH --open-mode=append\n";
  s << "#SBATCH --output=" << job.run_dir << "/slurm-%j.out\n";
  s << "set -uo pipefail\n";
  s << "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\n";
  s << "echo \"poet_dist: job $SLURM_JOB_ID on $SLURM_JOB_NODELIST, start $(( ${SLURM_RESTART_COUNT:-0} + 1 ))\"\n";
  std::string train = shell_quote(job.binary) + " train --config " + shell_quote(job.config);
  if (!job.data.empty()) train += " --data " + shell_quote(job.data);
  train += " --run-dir " + shell_quote(job.run_dir) + " --resume auto --requeue-on " + job.signal;
  for (const std::string& o : job.overrides) train += " --set " + shell_quote(o);
  // mpirun replaces the batch shell, so it takes Slurm's signal and passes it to the ranks.
  s << (srun ? "exec srun --mpi=pmix --kill-on-bad-exit=1 " : "exec mpirun -np \"$SLURM_NTASKS\" ") << train << "\n";
  return s.str();
}

}  // namespace poet
