// `poet_dist submit | jobs | cancel | logs`: training jobs on a Slurm cluster, through Slurm's
// own commands (sbatch, squeue, scontrol, sacct, scancel), never a scheduler of our own. Each
// submitted job's run directory holds its batch script, its log (slurm-JOBID.out) and job.json
// (id, name, config, script, source commit), and the job's comment names the run directory.
// Jobs started straight from slurm/*.sbatch are listed too: their names start with poet- and
// their run directories are RUN_ROOT/JOBNAME-JOBID.
#pragma once

#include <ostream>
#include <string>

#include "launcher/batch_script.h"

namespace poet {

struct SubmitOptions {
  JobRequest job;
  std::string run_root = "runs";  // the run directory is RUN_ROOT/<name, made safe>
  bool dry_run = false;           // print the script, submit nothing
};

// Prints the job id (or, with dry_run, the script). Throws poet::Error on failure.
void submit_job(SubmitOptions options, std::ostream& out);
// A table of this user's poet_dist jobs, submitted or started from slurm/*.sbatch: id, name,
// state, elapsed (of the latest run), nodes, requeues, latest step and loss. Live jobs come from
// squeue, ended ones from sacct where accounting is on, else from scontrol while slurmctld
// remembers them.
void list_jobs(const std::string& run_root, std::ostream& out);
void cancel_job(const std::string& job_id, std::ostream& out);
// Prints the job's log; with follow, keeps printing until the job has ended.
void show_logs(const std::string& job_id, const std::string& run_root, bool follow, std::ostream& out);

// Asks Slurm to requeue this job (SLURM_JOB_ID); returns false, with a warning, if it cannot.
bool requeue_this_job(std::ostream& err);

}  // namespace poet
