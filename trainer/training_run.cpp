// TrainingRun's loop and its parts: the step, evaluation, samples, metrics and checkpoints.
#include "trainer/training_run.h"

#include <torch/utils.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <limits>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/number_format.h"
#include "common/utf8.h"
#include "model/summed_loss.h"
#include "poems/sampler.h"
#include "trainer/train_step.h"

namespace poet {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// --trace records the first steps of the run: enough to see the pattern, and a small file.
constexpr int64_t kTracedSteps = 20;

// Linear warm-up, so AdamW's first moments settle before full steps; then cosine decay to
// lr * min_lr_ratio.
double learning_rate(const OptimConfig& o, int64_t step, int64_t total_steps) {
  if (step < o.warmup_steps) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - o.warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup_steps) / span);
  const double floor = o.lr * o.min_lr_ratio;
  return floor + (o.lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::string format_duration(double seconds) {
  char text[32];
  const auto s = static_cast<long>(seconds);
  if (s >= 3600) {
    std::snprintf(text, sizeof(text), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(text, sizeof(text), "%ldm%02lds", s / 60, s % 60);
  }
  return text;
}

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

TrainResult TrainingRun::train() {
  TrainResult result{position_.step, 0, kNaN, false, false};
  model_->train();
  start_ = interval_start_ = Clock::now();
  while (position_.step < config_.run.steps) {
    const StepResult s = step();
    const double val_loss = should_evaluate() ? evaluate() : kNaN;
    record(s, val_loss);
    keep_if_best(val_loss, s.elapsed);
    result.step = position_.step;
    result.last_loss = s.loss;
    if (!std::isnan(val_loss)) result.last_val_loss = val_loss;
    if (should_sample()) write_samples();
    if (overfit_reached(s)) break;
    result.interrupted = s.stop_requested;
    result.requeue = s.stop_requested && s.requeue_requested;
    if (should_checkpoint(s)) run_dir_.save_numbered(model_, optimizer_, checkpoint_meta(val_loss, s.elapsed));
    if (should_stop(s)) break;
  }
  finish(result);
  return result;
}

// ---------------------------------------------------------------------------
// The step

ChromeTrace* TrainingRun::step_trace() const {
  return position_.step - first_step_ < kTracedSteps ? trace_.get() : nullptr;
}

TrainingRun::StepResult TrainingRun::step() {
  const auto step_start = Clock::now();
  StepResult s;
  s.lr = learning_rate(config_.optim, position_.step, config_.run.steps);
  for (auto& group : optimizer_.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(s.lr);
  clear_gradients(model_);
  accumulate_micro_batches(s);
  reduce_across_ranks(s);
  s.grad_norm = clip_gradients(model_, config_.optim.grad_clip);
  apply_update(s);
  ChromeTrace* trace = step_trace();
  ++position_.step;
  position_.tokens_seen += tokens_per_step_;
  interval_tokens_ += tokens_per_step_;
  const auto now = Clock::now();
  s.seconds = seconds_between(step_start, now);
  s.elapsed = position_.elapsed_before + seconds_between(start_, now);
  if (trace != nullptr) {
    trace->span("steps", "step " + std::to_string(position_.step), step_start, now,
                "{\"comm_wait_s\":" + std::to_string(s.comm_seconds) + "}");
  }
  return s;
}

// Forward and backward of the step's micro-batches; only the last one's backward all-reduces.
void TrainingRun::accumulate_micro_batches(StepResult& s) {
  for (int64_t micro = 0; micro < config_.optim.grad_accum; ++micro) {
    const Batch batch =
        options_.overfit_batch ? train_data_.batch(0, 0) : train_data_.batch(position_.epoch, position_.batch_in_epoch);
    if (!options_.overfit_batch && ++position_.batch_in_epoch == train_data_.batches_per_epoch()) {
      position_.batch_in_epoch = 0;
      ++position_.epoch;
    }
    if (batch.inputs.size(0) == 0) continue;  // none of this global batch's rows are this rank's
    reducer_.prepare_backward(micro == config_.optim.grad_accum - 1);
    // Rows are numbered across the step's micro-batches: each row of the step its own masks.
    const DropoutKey dropout{config_.run.seed, position_.step, batch.rows + micro * config_.data.batch_size};
    s.loss += forward_backward(model_, batch, comm_.device(),
                               static_cast<double>(batch.global_targets * config_.optim.grad_accum), dropout,
                               step_trace());
  }
}

// Waits for the gradient buckets, then sums the loss and the stop signals: every rank sees the
// same loss and stops at the same step.
void TrainingRun::reduce_across_ranks(StepResult& s) {
  s.stop_requested = interrupted();
  // Preemption: the configured signal, or TERM, asks for a requeue after the checkpoint.
  s.requeue_requested =
      options_.requeue_signal != 0 && (interrupt_signal() == options_.requeue_signal || interrupt_signal() == SIGTERM);
  const auto comm_start = Clock::now();
  reducer_.finish();
  torch::Tensor shared =
      torch::tensor({s.loss, s.stop_requested ? 1.0 : 0.0, s.requeue_requested ? 1.0 : 0.0}, torch::kFloat64)
          .to(comm_.device());
  comm_.all_reduce_sum(shared);
  shared = shared.cpu();
  s.loss = shared[0].item<double>();
  s.stop_requested = shared[1].item<double>() > 0;
  s.requeue_requested = shared[2].item<double>() > 0;
  s.comm_seconds = seconds_between(comm_start, Clock::now());
}

// The optimizer step, or a skipped step when the loss or gradient is not finite (the same
// decision on every rank, which all see the same summed loss).
void TrainingRun::apply_update(const StepResult& s) {
  if (std::isfinite(s.loss) && std::isfinite(s.grad_norm)) {
    TraceScope span(step_trace(), "compute", "optimizer step");
    optimizer_.step();
    return;
  }
  const int64_t allowed = config_.optim.max_nonfinite_steps;
  if (++nonfinite_steps_ > allowed) {
    throw Error("the loss is " + std::to_string(s.loss) + " at step " + std::to_string(position_.step + 1) + " (" +
                std::to_string(nonfinite_steps_) + " such steps; optim.max_nonfinite_steps allows " +
                std::to_string(allowed) + "; lower optim.lr or check the data)");
  }
  progress_.message() << "warning: step " << position_.step + 1 << " has a non-finite loss or gradient; skipped ("
                      << nonfinite_steps_ << " of " << allowed << " allowed)\n";
}

// ---------------------------------------------------------------------------
// Evaluation, metrics, samples

bool TrainingRun::should_evaluate() const {
  const int64_t every = config_.run.eval_every;
  return position_.step == config_.run.steps || (every > 0 && position_.step % every == 0);
}

// The mean validation loss over every rank's rows; NaN when there are none.
double TrainingRun::evaluate() {
  const int64_t rows = config_.run.eval_batches > 0
                           ? std::min(val_data_.total_rows(), config_.run.eval_batches * config_.data.batch_size)
                           : val_data_.total_rows();
  const auto [loss_sum, targets] = summed_loss(model_, val_data_, rows, config_.data.batch_size, comm_.device());
  torch::Tensor totals = torch::tensor({loss_sum, static_cast<double>(targets)}, torch::kFloat64).to(comm_.device());
  comm_.all_reduce_sum(totals);
  totals = totals.cpu();
  const double all_targets = totals[1].item<double>();
  return all_targets > 0 ? totals[0].item<double>() / all_targets : kNaN;
}

// metrics.jsonl gets every step, for plots and for the tests' step-for-step comparisons; the
// console gets a line every run.log_every steps, and every evaluation.
void TrainingRun::record(const StepResult& s, double val_loss) {
  const int64_t step = position_.step;
  nlohmann::json record = {{"step", step},
                           {"epoch", position_.epoch},
                           {"loss", s.loss},
                           {"lr", s.lr},
                           {"grad_norm", s.grad_norm},
                           {"tokens", position_.tokens_seen},
                           {"tokens_per_s", static_cast<double>(tokens_per_step_) / s.seconds},
                           {"elapsed_s", s.elapsed},
                           {"comm_s", s.comm_seconds}};
  if (!std::isnan(val_loss)) {
    record["val_loss"] = val_loss;
    record["val_ppl"] = std::exp(val_loss);
  }
  run_dir_.append_metrics(record);

  const auto now = Clock::now();
  if (step % config_.run.log_every == 0 || step == config_.run.steps) {
    const double tokens_per_s =
        static_cast<double>(interval_tokens_) / std::max(seconds_between(interval_start_, now), 1e-9);
    const double seconds_per_step = seconds_between(start_, now) / static_cast<double>(step - first_step_);
    char line[256];
    std::snprintf(line, sizeof(line), "step %lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %s tok/s  ETA %s",
                  static_cast<long long>(step), static_cast<long long>(config_.run.steps), s.loss, s.lr, s.grad_norm,
                  with_commas(static_cast<long long>(tokens_per_s)).c_str(),
                  format_duration(seconds_per_step * static_cast<double>(config_.run.steps - step)).c_str());
    progress_.update(line, static_cast<double>(step) / static_cast<double>(config_.run.steps));
    interval_start_ = now;
    interval_tokens_ = 0;
  }
  if (!std::isnan(val_loss)) {
    char line[128];
    std::snprintf(line, sizeof(line), "eval     step %lld  val loss %.4f  val perplexity %.2f\n",
                  static_cast<long long>(step), val_loss, std::exp(val_loss));
    progress_.message() << line << std::flush;
  }
}

void TrainingRun::keep_if_best(double val_loss, double elapsed) {
  if (!(val_loss < best_val_loss_)) return;  // also when not measured (NaN)
  best_val_loss_ = val_loss;
  run_dir_.save_best(model_, optimizer_, checkpoint_meta(val_loss, elapsed));
}

bool TrainingRun::should_sample() const {
  const int64_t every = config_.run.sample_every;
  return root_ && (position_.step == config_.run.steps || (every > 0 && position_.step % every == 0));
}

// Rank 0's samples follow the tone patterns; rhyme groups and the copy check would need the whole
// training split, which no rank reads while training (`sample` applies them).
void TrainingRun::write_samples() {
  if (!verse_rules_) verse_rules_ = std::make_unique<VerseRules>(load_tone_rules(dataset_));
  for (PoemForm form : {PoemForm::kWujue, PoemForm::kFree}) {
    SampleOptions so;
    so.rules = verse_rules_.get();
    so.avoid_copies = false;
    so.candidates = 1;  // a glimpse of progress, not worth slowing training for
    so.form = form;
    so.seed = static_cast<uint64_t>(position_.step);
    so.max_chars = 120;
    const std::string text = utf8_encode(sample_poem(model_, dataset_.vocab(), so).text);
    model_->train();
    const std::string line = "step " + std::to_string(position_.step) + " [" + form_label(form) + "] " + text;
    progress_.message() << "sample   " << line << "\n";
    run_dir_.append_sample(line);
  }
}

// ---------------------------------------------------------------------------
// Stopping and checkpoints

bool TrainingRun::overfit_reached(const StepResult& s) {
  if (!options_.overfit_batch || !(s.loss < kOverfitLoss)) return false;
  progress_.message() << "overfit  loss " << s.loss << " < " << kOverfitLoss << " after " << position_.step
                      << " steps\n";
  return true;
}

// A signal, or --stop-after-steps reached.
bool TrainingRun::should_stop(const StepResult& s) const {
  return s.stop_requested ||
         (options_.stop_after_steps > 0 && position_.step - first_step_ >= options_.stop_after_steps);
}

bool TrainingRun::should_checkpoint(const StepResult& s) const {
  const int64_t every = config_.run.checkpoint_every;
  return position_.step == config_.run.steps || should_stop(s) || (every > 0 && position_.step % every == 0);
}

CheckpointMeta TrainingRun::checkpoint_meta(double val_loss, double elapsed) const {
  CheckpointMeta meta;
  meta.step = position_.step;
  meta.epoch = position_.epoch;
  meta.batch_in_epoch = position_.batch_in_epoch;
  meta.tokens_seen = position_.tokens_seen;
  meta.val_loss = val_loss;
  meta.elapsed_seconds = elapsed;
  meta.config_toml = config_.toml;
  meta.script = script_;
  meta.vocab_tokens = dataset_.vocab().tokens();
  meta.vocab_checksum = dataset_.vocab().checksum();
  return meta;
}

void TrainingRun::finish(const TrainResult& result) {
  if (trace_) {
    trace_->close();
    out_ << "trace    " << options_.trace_path << " (open in https://ui.perfetto.dev)\n";
  }
  if (result.step == first_step_) {
    progress_.message() << "done     nothing to train: the run is at step " << result.step << " of "
                        << config_.run.steps << ", run directory " << run_dir_.path().string() << "\n";
  } else {
    progress_.message() << "done     step " << result.step << ", loss " << result.last_loss << ", run directory "
                        << run_dir_.path().string() << "\n";
  }
}

}  // namespace poet
