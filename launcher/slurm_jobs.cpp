// submit_job(), list_jobs(), cancel_job(), show_logs() and requeue_this_job().
#include "launcher/slurm_jobs.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/subprocess.h"
#include "common/temp_file.h"
#include "git_commit.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCommentPrefix = "poet_dist:";
// The jobs of slurm/*.sbatch carry no comment and write no job.json; they are known by their
// names (poet-cpu, poet-8gpu, ...) and train into RUN_ROOT/JOBNAME-JOBID, with RUN_ROOT
// ($POET_RUN_ROOT, default runs) taken from the folder sbatch ran in.
constexpr const char* kScriptJobPrefix = "poet-";

// Slurm's command, or an error that says what to do without it.
std::string slurm_command(const std::string& name) {
  if (find_on_path(name).empty()) {
    throw Error("Slurm's " + name +
                " is not on PATH, so there is no Slurm to talk to: `poet_dist submit --dry-run` writes the batch "
                "script without submitting it, and `mpirun -np N poet_dist train ...` runs the same training "
                "without Slurm");
  }
  return name;
}

ProcessResult run_slurm(std::vector<std::string> argv) {
  argv[0] = slurm_command(argv[0]);
  return run_process(argv);
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

void require_job_id(const std::string& id) {
  if (id.empty() || id.find_first_not_of("0123456789_") != std::string::npos) {
    throw Error("job id '" + id + "' is not a Slurm job id (digits)");
  }
}

struct JobRow {
  std::string id;
  std::string name;
  std::string state = "?";
  std::string elapsed = "-";  // of the job's latest run, as Slurm's commands give it
  std::string nodes = "-";
  std::string requeues = "-";  // runs before the latest that were requeued
  std::string run_dir;
  std::string log;
};

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> cells;
  std::istringstream in(line);
  for (std::string cell; std::getline(in, cell, separator);) cells.push_back(cell);
  return cells;
}

bool is_script_job(const std::string& name) { return name.rfind(kScriptJobPrefix, 0) == 0; }

// The run directory of a slurm/*.sbatch job that sbatch started in `work_dir`.
std::string script_run_dir(const std::string& work_dir, const std::string& run_root, const std::string& name,
                           const std::string& id) {
  return (fs::path(work_dir) / run_root / (name + "-" + id)).lexically_normal().string();
}

// The job that `submit` recorded in `run_dir`/job.json; no id if the record is unreadable.
JobRow submitted_job(const fs::path& run_dir) {
  JobRow row;
  const auto j = nlohmann::json::parse(std::ifstream(run_dir / "job.json"), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("job_id")) return row;
  row.id = j.value("job_id", "");
  row.name = j.value("name", "");
  row.run_dir = j.value("run_dir", run_dir.string());
  row.log = row.run_dir + "/slurm-" + row.id + ".out";
  return row;
}

// The slurm/*.sbatch job whose run directory `run_dir` is, from its JOBNAME-JOBID; no id if
// the name is not of that form. Its log is in the folder sbatch ran in, which is not known here.
JobRow script_job(const fs::path& run_dir) {
  JobRow row;
  const std::string folder = run_dir.filename().string();
  const size_t dash = folder.rfind('-');
  if (dash == std::string::npos || !is_script_job(folder.substr(0, dash))) return row;
  const std::string id = folder.substr(dash + 1);
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return row;
  row.id = id;
  row.name = folder.substr(0, dash);
  row.run_dir = fs::absolute(run_dir).lexically_normal().string();
  return row;
}

// The jobs whose run directories are under `run_root`, by job id.
std::map<std::string, JobRow> recorded_jobs(const std::string& run_root) {
  std::map<std::string, JobRow> jobs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_root, ec)) {
    if (!entry.is_directory()) continue;
    JobRow row = fs::exists(entry.path() / "job.json") ? submitted_job(entry.path()) : script_job(entry.path());
    if (!row.id.empty()) jobs[row.id] = row;
  }
  return jobs;
}

// `scontrol show job -o ID` as key=value pairs (empty once slurmctld has forgotten the job).
std::map<std::string, std::string> scontrol_job(const std::string& id) {
  std::map<std::string, std::string> fields;
  const ProcessResult r = run_slurm({"scontrol", "show", "job", "-o", id});
  if (r.exit_code != 0) return fields;
  std::istringstream words(r.out);
  for (std::string word; words >> word;) {
    const size_t eq = word.find('=');
    if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return fields;
}

// Ended jobs as accounting records them, by job id: each run of a requeued job is a record of
// its own (sacct -D), so the latest run gives state, elapsed and nodes, and the earlier ones are
// the requeues. Empty, with `why` set, where accounting is off or does not answer.
std::map<std::string, JobRow> accounted_jobs(const std::vector<std::string>& ids, std::string* why) {
  std::map<std::string, JobRow> jobs;
  if (find_on_path("sacct").empty()) {
    *why = "sacct is not on PATH";
    return jobs;
  }
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
  const ProcessResult r =
      run_process({"sacct", "-n", "-P", "-X", "-D", "-j", list, "-o", "JobID,Submit,State,Elapsed,NNodes"});
  if (r.exit_code != 0) {
    const std::string err = trim(r.err.empty() ? r.out : r.err);
    *why = "sacct failed: " + err.substr(0, err.find('\n'));
    return jobs;
  }
  std::map<std::string, std::string> latest_submit;
  std::map<std::string, int> runs;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const std::vector<std::string> f = split(line, '|');
    if (f.size() != 5) continue;
    ++runs[f[0]];
    // A requeue resets the submit time, so the latest run is submitted last; on a tie, sacct's
    // order (oldest first) decides.
    if (f[1] < latest_submit[f[0]]) continue;
    latest_submit[f[0]] = f[1];
    JobRow& row = jobs[f[0]];
    row.state = f[2].substr(0, f[2].find(' '));  // "CANCELLED by 0": who cancelled is not a state
    row.elapsed = f[3];
    row.nodes = f[4];
  }
  for (auto& [id, row] : jobs) row.requeues = std::to_string(runs[id] - 1);
  return jobs;
}

// The last metrics line of a run: "step", "loss".
std::pair<std::string, std::string> latest_metrics(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string last;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) last = line;
  }
  const auto j = nlohmann::json::parse(last, nullptr, false);
  if (last.empty() || j.is_discarded()) return {"-", "-"};
  std::ostringstream loss;
  loss << std::fixed << std::setprecision(4) << j.value("loss", 0.0);
  return {std::to_string(j.value("step", int64_t{0})), loss.str()};
}

}  // namespace

void submit_job(SubmitOptions options, std::ostream& out) {
  JobRequest& job = options.job;
  if (!fs::is_regular_file(job.config)) throw Error("--config " + job.config + ": no such file");
  job.config = fs::canonical(job.config).string();
  if (!job.data.empty()) {
    if (!fs::is_regular_file(job.data)) throw Error("--data " + job.data + ": no such file");
    job.data = fs::canonical(job.data).string();
  }
  if (job.name.empty()) job.name = fs::path(job.config).stem().string();
  job.run_dir = (fs::absolute(options.run_root) / safe_file_name(job.name)).lexically_normal().string();
  job.binary = fs::read_symlink("/proc/self/exe").string();
  job.commit = POET_GIT_COMMIT;
  const std::string script = render_batch_script(job);
  if (options.dry_run) {
    out << script;
    return;
  }
  slurm_command("sbatch");
  fs::create_directories(job.run_dir);
  const fs::path script_path = fs::path(job.run_dir) / "job.sbatch";
  write_file_atomically(script_path.string(), script);
  // The name goes to sbatch as an argument: whatever it holds, no shell reads it.
  const ProcessResult r = run_slurm({"sbatch", "--parsable", "--job-name=" + job.name,
                                     std::string("--comment=") + kCommentPrefix + job.run_dir, script_path.string()});
  if (r.exit_code != 0) throw Error("sbatch refused the job: " + trim(r.err.empty() ? r.out : r.err));
  std::string id = trim(r.out);
  id = id.substr(0, id.find(';'));  // "ID;cluster" on multi-cluster set-ups
  require_job_id(id);
  char submitted[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(submitted, sizeof(submitted), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  const nlohmann::json record = {{"job_id", id},
                                 {"name", job.name},
                                 {"config", job.config},
                                 {"data", job.data},
                                 {"overrides", job.overrides},
                                 {"script", script_path.string()},
                                 {"run_dir", job.run_dir},
                                 {"log", job.run_dir + "/slurm-" + id + ".out"},
                                 {"commit", job.commit},
                                 {"submitted", submitted}};
  write_file_atomically((fs::path(job.run_dir) / "job.json").string(), record.dump(2) + "\n");
  out << id << "\n";
}

void list_jobs(const std::string& run_root, std::ostream& out) {
  std::map<std::string, JobRow> jobs = recorded_jobs(run_root);
  // Live jobs, including poet_dist jobs submitted from other run roots (found by their comment)
  // and those of slurm/*.sbatch, pending ones too (found by their name).
  const ProcessResult q = run_slurm(
      {"squeue", "--me", "-h", "-O", "JobID:|,Name:|,State:|,TimeUsed:|,NumNodes:|,RestartCnt:|,WorkDir:|,Comment:|"});
  if (q.exit_code != 0) throw Error("squeue failed: " + trim(q.err));
  std::istringstream lines(q.out);
  for (std::string line; std::getline(lines, line);) {
    const std::vector<std::string> f = split(line, '|');
    if (f.size() < 8) continue;
    const bool submitted = f[7].rfind(kCommentPrefix, 0) == 0;
    if (!submitted && !is_script_job(f[1]) && jobs.count(f[0]) == 0) continue;
    JobRow& row = jobs[f[0]];
    row.id = f[0];
    row.name = f[1];
    row.state = f[2];
    row.elapsed = f[3];
    row.nodes = f[4];
    row.requeues = f[5];
    if (submitted) {
      row.run_dir = f[7].substr(std::string(kCommentPrefix).size());
    } else if (row.run_dir.empty()) {
      row.run_dir = script_run_dir(/*work_dir=*/f[6], run_root, row.name, row.id);
    }
  }
  // Ended: accounting keeps them, where it is on, as real clusters have it; slurmctld remembers
  // them only for a while (MinJobAge), and is asked about those accounting does not know.
  std::vector<std::string> ended;
  for (const auto& [id, row] : jobs) {
    if (row.state == "?") ended.push_back(id);
  }
  std::string no_accounting = "accounting has no record of it";
  const auto accounted = ended.empty() ? std::map<std::string, JobRow>{} : accounted_jobs(ended, &no_accounting);
  bool unknown = false;
  for (const std::string& id : ended) {
    JobRow& row = jobs.at(id);
    if (accounted.count(id) != 0) {
      const JobRow& a = accounted.at(id);
      row.state = a.state;
      row.elapsed = a.elapsed;
      row.nodes = a.nodes;
      row.requeues = a.requeues;
      continue;
    }
    const auto fields = scontrol_job(id);
    const auto field = [&](const char* key, const char* fallback) {
      return fields.count(key) != 0 ? fields.at(key) : fallback;
    };
    row.state = field("JobState", "?");
    row.elapsed = field("RunTime", "-");
    row.nodes = field("NumNodes", "-");
    row.requeues = field("Restarts", "-");
    unknown = unknown || row.state == "?";
  }
  out << std::left << std::setw(9) << "JOBID" << std::setw(18) << "NAME" << std::setw(12) << "STATE" << std::setw(12)
      << "ELAPSED" << std::setw(6) << "NODES" << std::setw(9) << "REQUEUES" << std::setw(9) << "STEP" << std::setw(9)
      << "LOSS"
      << "RUN_DIR\n";
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
    const JobRow& row = it->second;
    const auto [step, loss] = latest_metrics(row.run_dir);
    std::string name = row.name.size() > 16 ? row.name.substr(0, 15) + "~" : row.name;
    out << std::left << std::setw(9) << row.id << std::setw(18) << name << std::setw(12) << row.state << std::setw(12)
        << row.elapsed << std::setw(6) << row.nodes << std::setw(9) << row.requeues << std::setw(9) << step
        << std::setw(9) << loss << row.run_dir << "\n";
  }
  if (jobs.empty()) out << "(no poet_dist jobs under " << run_root << " or in squeue)\n";
  if (unknown) out << "(state ?: slurmctld no longer remembers the job, and " << no_accounting << ")\n";
}

void cancel_job(const std::string& job_id, std::ostream& out) {
  require_job_id(job_id);
  // The ranks take scancel's TERM as preemption and would requeue the job: forbid that first.
  const ProcessResult no_requeue = run_slurm({"scontrol", "update", "JobId=" + job_id, "Requeue=0"});
  if (no_requeue.exit_code != 0) {
    throw Error("scontrol update JobId=" + job_id + " Requeue=0 failed: " + trim(no_requeue.err));
  }
  const ProcessResult r = run_slurm({"scancel", job_id});
  if (r.exit_code != 0 || !trim(r.err).empty()) {
    throw Error("scancel " + job_id + " failed: " + trim(r.err.empty() ? r.out : r.err));
  }
  out << "cancelled job " << job_id << "\n";
}

void show_logs(const std::string& job_id, const std::string& run_root, bool follow, std::ostream& out) {
  require_job_id(job_id);
  const auto jobs = recorded_jobs(run_root);
  std::string log;
  if (jobs.count(job_id) != 0) log = jobs.at(job_id).log;
  if (log.empty()) {
    const auto fields = scontrol_job(job_id);
    if (fields.count("StdOut") != 0) log = fields.at("StdOut");
  }
  if (log.empty()) {
    throw Error("no log found for job " + job_id + ": not under " + run_root + " and unknown to scontrol");
  }
  const auto running = [&] {
    const ProcessResult q = run_slurm({"squeue", "-h", "-j", job_id, "-o", "%T"});
    return q.exit_code == 0 && !trim(q.out).empty();
  };
  std::streamoff printed = 0;
  bool ended = false;
  for (;;) {
    std::ifstream in(log, std::ios::binary);
    if (!in && !follow) throw Error(log + ": no such log (has the job started?)");
    if (in) {
      in.seekg(printed);
      std::ostringstream fresh;
      fresh << in.rdbuf();
      printed += static_cast<std::streamoff>(fresh.str().size());
      out << fresh.str() << std::flush;
    }
    if (!follow || ended) break;
    ended = !running();  // then one more read: what the job wrote as it ended
    if (!ended) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

bool requeue_this_job(std::ostream& err) {
  const char* id = std::getenv("SLURM_JOB_ID");
  if (id == nullptr) return false;
  if (find_on_path("scontrol").empty()) {
    err << "poet_dist: warning: cannot requeue job " << id << ": scontrol is not on PATH\n";
    return false;
  }
  const ProcessResult r = run_process({"scontrol", "requeue", id});
  if (r.exit_code != 0) {
    err << "poet_dist: warning: scontrol requeue " << id << " failed: " << trim(r.err) << "\n";
    return false;
  }
  return true;
}

}  // namespace poet
