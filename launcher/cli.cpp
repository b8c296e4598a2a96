// run_cli(): subcommand definitions and the one place errors become exit codes.
#include "launcher/cli.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "collectives/communicator.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "config/train_config.h"
#include "data/inspect.h"
#include "data/prepare.h"
#include "export/model_export.h"
#include "launcher/build_info.h"
#include "launcher/job_cli.h"
#include "launcher/slurm_jobs.h"
#include "poems/evaluate.h"
#include "poems/report.h"
#include "poems/sample_command.h"
#include "poems/sampler.h"
#include "serve/poem_server.h"
#include "trainer/trainer.h"

namespace poet {

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

// --input, else $POET_DATA, else the shared copy beside the checkout.
std::string default_data_dir() {
  if (const char* env = std::getenv("POET_DATA"); env != nullptr && *env != '\0') return env;
  return "../shared/data/chinese-poetry";
}

// The 平水韵 beside the default corpus, as the shared data folder holds them; empty when absent.
std::string default_pingshui() {
  if (const char* env = std::getenv("POET_PINGSHUI"); env != nullptr && *env != '\0') return env;
  const std::string beside = "../shared/data/pingshui/pingshui.json";
  return std::filesystem::exists(beside) ? beside : "";
}

void add_prepare(CLI::App& app, PrepareOptions& o, std::string& forms, std::string& script) {
  auto* cmd = app.add_subcommand("prepare", "Turn the chinese-poetry Tang corpus into a sharded HDF5 dataset");
  o.input = default_data_dir();
  cmd->add_option("--input", o.input,
                  "Corpus folder: a chinese-poetry clone, the npm package, or poet.tang.*.json files")
      ->capture_default_str();
  cmd->add_option("--output", o.output, "HDF5 file to write (atomically: temporary name, then rename)")->required();
  cmd->add_option("--forms", forms, "all, or regular (五绝 七绝 五律 七律 only)")
      ->check(CLI::IsMember({"all", "regular"}))
      ->capture_default_str();
  cmd->add_option("--script", script, "Script of the dataset (OpenCC conversion)")
      ->check(CLI::IsMember({"traditional", "simplified"}))
      ->capture_default_str();
  cmd->add_option("--val-fraction", o.val_fraction, "Share of poems in the validation split (by hash of the id)")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str();
  cmd->add_option("--shards", o.shards, "Logical shards; each rank later reads only its own")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--min-count", o.min_count, "Characters seen fewer times in train map to <unk>")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-unknown", o.max_unknown, "Drop poems with more <unk> characters than this")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of the training poems' order across shards")->capture_default_str();
  cmd->add_option("--threads", o.threads, "Worker threads (0: the cores available)")->capture_default_str();
  o.pingshui = default_pingshui();
  cmd->add_option("--pingshui", o.pingshui,
                  "The 平水韵 rhyme table, pingshui.json or its folder (default: $POET_PINGSHUI, else "
                  "../shared/data/pingshui when present; \"\": none, rhymes learned from the corpus)")
      ->capture_default_str();
}

// "rank R: " under mpirun/srun, so an error names the rank it came from.
std::string rank_prefix() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* value = std::getenv(name)) return std::string("rank ") + value + ": ";
  }
  return "";
}

// The train flags that are not TrainOptions: they choose the communicator or become overrides.
struct TrainFlags {
  std::string backend = "auto";
  std::string requeue_on;         // "", USR1 or USR2
  double collective_timeout = 0;  // 0: the config's
  double stall_warning = 0;
};

void add_train(CLI::App& app, TrainOptions& o, TrainFlags& flags) {
  auto* cmd = app.add_subcommand("train", "Train the LSTM poet (one process; under mpirun, one rank each)");
  cmd->add_option("--config", o.config_file, "TOML run config (configs/tiny.toml, configs/cpu-quick.toml, ...)");
  cmd->add_option("--data", o.data, "Dataset written by prepare (overrides data.path)");
  cmd->add_option("--run-dir", o.run_dir, "Where checkpoints, metrics.jsonl and samples.txt go")->required();
  cmd->add_option("--set", o.overrides, "Override a config key: --set model.hidden=512 (repeatable)");
  cmd->add_option("--resume", o.resume, "auto (newest checkpoint that verifies) or a checkpoint path");
  cmd->add_flag("--debug", o.debug, "Small sizes, anomaly detection, a line every step");
  cmd->add_flag("--overfit-batch", o.overfit_batch, "Train on one batch until the loss is near zero");
  cmd->add_option("--stop-after-steps", o.stop_after_steps,
                  "Write a checkpoint and stop after this many steps (resume continues the run)");
  cmd->add_option("--backend", flags.backend,
                  "Collectives under mpirun: auto (NCCL on CUDA, MPI on the CPU), mpi or nccl; a choice that cannot "
                  "work with run.device is refused, with or without mpirun")
      ->check(CLI::IsMember({"auto", "mpi", "nccl"}))
      ->capture_default_str();
  cmd->add_option("--collective-timeout", flags.collective_timeout, config_key_help("distributed.collective_timeout_s"))
      ->check(CLI::PositiveNumber);
  cmd->add_option("--stall-warning", flags.stall_warning, config_key_help("distributed.stall_warning_s"))
      ->check(CLI::PositiveNumber);
  cmd->add_option("--requeue-on", flags.requeue_on,
                  "Under Slurm: stopped by this signal (or TERM), checkpoint and requeue the job (scontrol requeue)")
      ->check(CLI::IsMember({"USR1", "USR2"}));
  cmd->add_option("--trace", o.trace_path, "Write a Chrome trace (Perfetto) of rank 0's first 20 steps to this file");
  cmd->add_option("--progress", o.progress,
                  "auto (a bar where a person watches a terminal, plain lines in logs and batch jobs), bar or plain")
      ->check(CLI::IsMember({"auto", "bar", "plain"}))
      ->capture_default_str();
}

void add_rhyme_table_option(CLI::App* cmd, std::string& table) {
  cmd->add_option(
         "--rhyme-table", table,
         "pingshui (the 平水韵, default where the dataset holds it) or learned (groups learned from the corpus)")
      ->check(CLI::IsMember({"pingshui", "learned"}));
}

void add_search_option(CLI::App* cmd, std::string& search) {
  cmd->add_option("--search", search,
                  "candidates (whole poems, the likeliest kept) or beam (line by line, the " +
                      std::to_string(kBeamWidth) + " likeliest partial poems kept, as many lines written)")
      ->check(CLI::IsMember({"candidates", "beam"}))
      ->capture_default_str();
}

void add_sample(CLI::App& app, SampleCommand& c, std::string& script) {
  auto* cmd = app.add_subcommand("sample", "Write poems with a trained checkpoint");
  cmd->add_option("--checkpoint", c.checkpoint, "Checkpoint file (run-dir/checkpoints/...)")->required();
  cmd->add_option("--prompt", c.request.prompt, "Continue from these characters");
  cmd->add_option("--acrostic", c.request.acrostic, "藏头诗: line i begins with character i");
  cmd->add_option("--keywords", c.request.keywords, "春,江,花,月: line i holds keyword i (one or two characters)");
  cmd->add_option("--form", c.request.form,
                  "wujue, qijue, wulv, qilv or free (default: free; 七绝/七律 for an acrostic or keywords)")
      ->check(CLI::IsMember({"wujue", "qijue", "wulv", "qilv", "free"}));
  cmd->add_option("--candidates", c.request.candidates, "Poems written under the same constraints; the likeliest is kept")
      ->capture_default_str();
  add_search_option(cmd, c.request.search);
  cmd->add_option("--temperature", c.request.temperature, "Sampling temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", c.request.top_k, "Keep the k most likely characters (0: all)")->capture_default_str();
  cmd->add_option("--top-p", c.request.top_p, "Keep the most likely characters up to this mass")->capture_default_str();
  cmd->add_option("--seed", c.request.seed, "Same seed, same poem")->capture_default_str();
  cmd->add_option("--tones", c.request.tones, "Regulated verse: strict (only fitting tones), soft (weighted) or off")
      ->check(CLI::IsMember({"strict", "soft", "off"}))
      ->capture_default_str();
  cmd->add_flag("--no-copy-check{false}", c.request.avoid_copies, "Keep lines found verbatim in the training set");
  cmd->add_flag("--show-tones", c.show_tones, "Print each line's tones (平 仄, 中 for both) beside it");
  cmd->add_option("--data", c.data, "Dataset for tones, rhymes and the copy check (default: the checkpoint's)");
  add_rhyme_table_option(cmd, c.rhyme_table);
  cmd->add_option("--num", c.request.num, "Poems to write (seeds seed, seed+1, ...)")->capture_default_str();
  cmd->add_option("--script", script, "Output script (default: the model's); input may be in either")
      ->check(CLI::IsMember({"traditional", "simplified"}));
  cmd->add_flag("--json", c.json, "One JSON object with a list 'poems'");
}

void add_serve(CLI::App& app, ServeOptions& o) {
  auto* cmd = app.add_subcommand("serve", "Serve a checkpoint: a web page that writes poems, and a JSON API");
  cmd->add_option("--checkpoint", o.checkpoint, "Checkpoint file (run-dir/checkpoints/...)")->required();
  cmd->add_option("--host", o.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--port", o.port, "Port (0: any free one, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--workers", o.workers, "Poems written at once, a model each (0: the cores available)")
      ->check(CLI::Range(0, kMaxWorkers))
      ->capture_default_str();
  cmd->add_option("--queue", o.queue, "Requests that may wait for a worker; beyond them, 503 at once")
      ->check(CLI::Range(0, kMaxQueue))
      ->capture_default_str();
  cmd->add_option("--timeout", o.timeout_s, "Seconds a request may take, waiting included; then 503")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--data", o.data, "Dataset for tones, rhymes and the copy check (default: the checkpoint's)");
  add_rhyme_table_option(cmd, o.rhyme_table);
}

void add_export(CLI::App& app, ExportOptions& o) {
  auto* cmd = app.add_subcommand("export", "Write a checkpoint's model for Python's torch.load (python/poet_model.py)");
  cmd->add_option("--checkpoint", o.checkpoint, "Checkpoint file (run-dir/checkpoints/...)")->required();
  cmd->add_option("--output", o.output, "File to write (model.pt), atomically")->required();
}

// Inside a Slurm job step started by srun, the MPI world must hold all of the step's tasks: srun
// without PMI starts N processes that each believe they are rank 0 of 1, and would train N
// separate models. (Ranks started by mpirun inherit the variables of mpirun's own daemon step,
// which say nothing about the world, so they are not checked.)
void check_slurm_world_size(int world) {
  const char* tasks = std::getenv("SLURM_NTASKS");
  if (tasks == nullptr || std::getenv("SLURM_STEP_ID") == nullptr || std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    return;
  }
  const int expected = std::atoi(tasks);
  if (expected != world) {
    throw Error("Slurm started " + std::to_string(expected) + " tasks but MPI sees a world of " +
                std::to_string(world) +
                " (srun needs --mpi=pmix, or start the ranks with mpirun inside the allocation)");
  }
}

// `comm` belongs to the caller, so that an error is printed and the other ranks stopped before
// the communicator's teardown, which may wait on them.
int run_train(TrainOptions o, const TrainFlags& flags, std::unique_ptr<Communicator>& comm) {
  if (!flags.requeue_on.empty()) o.requeue_signal = flags.requeue_on == "USR1" ? SIGUSR1 : SIGUSR2;
  if (flags.collective_timeout > 0) {
    o.overrides.push_back("distributed.collective_timeout_s=" + toml_float(flags.collective_timeout));
  }
  if (flags.stall_warning > 0) o.overrides.push_back("distributed.stall_warning_s=" + toml_float(flags.stall_warning));
  const TrainConfig config = resolve_train_config(o);
  // Under mpirun or srun every rank joins one job; started alone, this is a world of one.
  comm = make_communicator(config.run.device, flags.backend, launched_by_mpi(), config.distributed.progress_thread,
                           static_cast<int>(config.run.threads));
  comm->set_timeouts({config.distributed.stall_warning_s, config.distributed.collective_timeout_s});
  check_slurm_world_size(comm->size());
  if (comm->rank() == 0) std::cout << versions_line() << "\n";
  const TrainResult result = train(o, config, *comm, std::cout);
  if (result.interrupted) {
    if (comm->rank() != 0) return kExitInterrupted;  // rank 0 speaks for the job
    std::cerr << "poet_dist: interrupted at step " << result.step
              << "; checkpoint written, resume with --resume auto\n";
    if (result.requeue && requeue_this_job(std::cerr)) {
      std::cerr << "poet_dist: requeued job " << std::getenv("SLURM_JOB_ID") << "; it resumes from step " << result.step
                << "\n";
    }
    return kExitInterrupted;
  }
  if (o.overfit_batch && !(result.last_loss < kOverfitLoss)) {
    std::cerr << "poet_dist: error: --overfit-batch: the loss is still " << result.last_loss << " after " << result.step
              << " steps (expected below " << kOverfitLoss << ")\n";
    return kExitError;
  }
  return 0;
}

int run_prepare(PrepareOptions& o, const std::string& forms, const std::string& script) {
  o.regular_only = forms == "regular";
  o.script = parse_script(script, "--script");
  const auto start = std::chrono::steady_clock::now();
  const PrepareReport report = prepare_dataset(o, std::cerr);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_report(std::cout, report);
  std::cout << "wrote       " << o.output << " (" << std::filesystem::file_size(o.output) / 1000000.0 << " MB) in "
            << seconds << " s\n";
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"poet_dist: train an LSTM that writes Tang poems, on one CPU or many GPUs"};
  // At most one; CLI11 then names an unknown command instead of asking for a subcommand.
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", [] { return build_report(); });
  auto* version = app.add_subcommand("version", "Print the build: versions, NCCL/CUDA, BLAS, threads");
  PrepareOptions prepare_options;
  std::string forms = "all";
  std::string script = "simplified";
  add_prepare(app, prepare_options, forms, script);
  TrainOptions train_options;
  TrainFlags train_flags;
  add_train(app, train_options, train_flags);
  SampleCommand sample_command;
  std::string sample_script;
  add_sample(app, sample_command, sample_script);
  ServeOptions serve_options;
  add_serve(app, serve_options);
  ExportOptions export_options;
  add_export(app, export_options);
  JobCommands job_commands;
  add_job_commands(app, job_commands);
  EvaluateOptions evaluate_options;
  auto* evaluate = app.add_subcommand(
      "evaluate", "Score a checkpoint's poems: form, tones, rhyme, copying, repetition, likelihood, perplexity");
  evaluate->add_option("--checkpoint", evaluate_options.checkpoint, "Checkpoint file")->required();
  evaluate->add_option("--data", evaluate_options.data, "Dataset (default: the one the checkpoint was trained on)");
  evaluate->add_option("--num", evaluate_options.num, "Poems a form and tone mode (seeds 1..N)")->capture_default_str();
  evaluate->add_option("--json", evaluate_options.json_path, "JSON output (default: RUN_DIR/evaluation.json)");
  evaluate->add_option("--tones", evaluate_options.tones, "Tone modes to sample with")
      ->check(CLI::IsMember({"strict", "soft", "off"}))
      ->capture_default_str();
  evaluate->add_option("--candidates", evaluate_options.candidates, "Candidates a poem (as sample --candidates)")
      ->capture_default_str();
  add_search_option(evaluate, evaluate_options.search);
  add_rhyme_table_option(evaluate, evaluate_options.rhyme_table);
  ReportOptions report_options;
  auto* report = app.add_subcommand("report", "Write RUN_DIR/report.html: loss curves, evaluation, poems");
  report->add_option("run_dir", report_options.run_dir, "Run directory of poet_dist train")->required();
  report->add_option("--output", report_options.output, "HTML file (default: RUN_DIR/report.html)");
  report->add_option("--data", report_options.data, "Dataset for the poems' tones (default: the checkpoint's)");
  std::string inspect_path;
  int inspect_poems = 3;
  auto* inspect = app.add_subcommand("inspect", "Print a dataset's report, verify it and decode a few poems");
  inspect->add_option("file", inspect_path, "Dataset written by prepare")->required();
  inspect->add_option("--poems", inspect_poems, "Poems to decode")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "poet_dist: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }

  install_interrupt_handlers();
  // Declared outside the try so that MPI and the communicator are still up when an error aborts
  // the other ranks: their teardown can wait on ranks that will never arrive.
  std::unique_ptr<MpiSession> mpi;
  std::unique_ptr<Communicator> comm;
  try {
    if (app.got_subcommand("train") && launched_by_mpi()) mpi = std::make_unique<MpiSession>(&argc, &argv);
    if (version->parsed()) {
      std::cout << build_report();
      return 0;
    }
    if (app.got_subcommand("prepare")) return run_prepare(prepare_options, forms, script);
    if (app.got_subcommand("train")) return run_train(train_options, train_flags, comm);
    if (app.got_subcommand("sample")) {
      if (!sample_script.empty()) sample_command.request.script = parse_script(sample_script, "--script");
      run_sample(sample_command, std::cout);
      return 0;
    }
    if (app.got_subcommand("serve")) return run_server(serve_options, std::cout);
    if (app.got_subcommand("export")) {
      export_model(export_options, std::cout);
      return 0;
    }
    if (run_job_command(job_commands, std::cout)) return 0;
    if (evaluate->parsed()) {
      run_evaluate(evaluate_options, std::cout);
      return 0;
    }
    if (report->parsed()) {
      write_report(report_options, std::cout);
      return 0;
    }
    if (inspect->parsed()) {
      inspect_dataset(inspect_path, inspect_poems, std::cout);
      return 0;
    }
  } catch (const Interrupted&) {
    std::cerr << "poet_dist: interrupted; nothing was written to the output\n";
    return kExitInterrupted;
  } catch (const std::exception& e) {
    std::cerr << "poet_dist: error: " << rank_prefix() << e.what() << "\n" << std::flush;
    abort_other_ranks(kExitError);
    return kExitError;
  }
  std::cerr << "poet_dist: a subcommand is required: version, prepare, inspect, train, sample, serve, export, evaluate, "
               "report, submit, jobs, cancel or logs (see --help)\n";
  return kExitUsage;
}

}  // namespace poet
