// add_job_commands() and run_job_command(): CLI11 options onto SubmitOptions, then slurm_jobs.
#include "launcher/job_cli.h"

namespace poet {

void add_job_commands(CLI::App& app, JobCommands& c) {
  JobRequest& job = c.submit.job;
  auto* submit = app.add_subcommand("submit", "Submit a training job to Slurm (sbatch), or print its script");
  submit->add_option("--config", job.config, "TOML run config")->required();
  submit->add_option("--data", job.data, "Dataset written by prepare (default: the config's data.path)");
  submit->add_option("--set", job.overrides, "Override a config key, passed to train (repeatable)");
  submit->add_option("--name", job.name,
                     "Job name (default: the config's file name); the run directory is named after it");
  submit->add_option("--run-root", c.submit.run_root, "Folder of run directories")->capture_default_str();
  submit->add_option("--nodes", job.nodes, "Nodes")->capture_default_str();
  submit->add_option("--gpus-per-node", job.gpus_per_node, "GPUs a node (one rank each); 0 for CPU jobs")
      ->capture_default_str();
  submit->add_option("--tasks-per-node", job.tasks_per_node, "Ranks a node (default: one a GPU, else 1)");
  submit->add_option("--cpus-per-task", job.cpus_per_task, "Cores a rank (default: Slurm's)");
  submit->add_option("--time", job.time, "Time limit: minutes, HH:MM:SS or D-HH:MM:SS");
  submit->add_option("--partition", job.partition, "Slurm partition");
  submit->add_option("--account", job.account, "Slurm account");
  submit->add_option("--signal", job.signal, "Preemption signal before the time limit: USR1 or USR2")
      ->capture_default_str();
  submit->add_option("--signal-seconds", job.signal_seconds, "Seconds before the time limit")->capture_default_str();
  submit->add_option("--launcher", job.launcher, "srun (--mpi=pmix) or mpirun inside the allocation")
      ->capture_default_str();
  submit->add_flag("--dry-run", c.submit.dry_run, "Print the batch script; submit nothing");
  c.submit_cmd = submit;

  c.jobs_cmd = app.add_subcommand("jobs", "This user's poet_dist jobs: state, elapsed time, latest step and loss");
  c.jobs_cmd->add_option("--run-root", c.run_root, "Folder of run directories")->capture_default_str();
  c.cancel_cmd = app.add_subcommand("cancel", "Cancel a job (scancel)");
  c.cancel_cmd->add_option("job_id", c.job_id, "Slurm job id")->required();
  c.logs_cmd = app.add_subcommand("logs", "Print a job's log");
  c.logs_cmd->add_option("job_id", c.job_id, "Slurm job id")->required();
  c.logs_cmd->add_flag("--follow,-f", c.follow, "Keep printing until the job ends");
  c.logs_cmd->add_option("--run-root", c.run_root, "Folder of run directories")->capture_default_str();
}

bool run_job_command(JobCommands& c, std::ostream& out) {
  if (c.submit_cmd->parsed()) {
    submit_job(c.submit, out);
  } else if (c.jobs_cmd->parsed()) {
    list_jobs(c.run_root, out);
  } else if (c.cancel_cmd->parsed()) {
    cancel_job(c.job_id, out);
  } else if (c.logs_cmd->parsed()) {
    show_logs(c.job_id, c.run_root, c.follow, out);
  } else {
    return false;
  }
  return true;
}

}  // namespace poet
