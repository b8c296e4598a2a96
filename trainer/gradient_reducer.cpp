// GradientReducer: bucket planning, gradients as bucket views, accumulator hooks, and the
// in-order start of buckets.
#include "trainer/gradient_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <utility>

#include "common/error.h"

namespace poet {

std::vector<std::vector<size_t>> plan_buckets(const std::vector<int64_t>& bytes, int64_t first_bucket_bytes,
                                              int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> buckets;
  int64_t filled = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int64_t cap = buckets.size() == 1 ? first_bucket_bytes : bucket_bytes;
    if (buckets.empty() || filled >= cap) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(i);
    filled += bytes[i];
  }
  return buckets;
}

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, Communicator& comm, int64_t first_bucket_bytes,
                                 int64_t bucket_bytes, ChromeTrace* trace)
    : parameters_(std::move(parameters)), comm_(comm), trace_(trace) {
  // Backward finishes the parameters used last first: reverse registration order.
  std::vector<size_t> ready_order;
  std::vector<int64_t> bytes;
  for (size_t i = parameters_.size(); i-- > 0;) {
    const torch::Tensor& p = parameters_[i];
    if (p.scalar_type() != parameters_[0].scalar_type() || p.device() != parameters_[0].device()) {
      throw Error("gradient buckets need every parameter of one type and device");
    }
    ready_order.push_back(i);
    bytes.push_back(p.numel() * static_cast<int64_t>(p.element_size()));
  }
  bucket_of_.resize(parameters_.size());
  for (const auto& plan : plan_buckets(bytes, first_bucket_bytes, bucket_bytes)) {
    Bucket bucket;
    int64_t numel = 0;
    for (size_t k : plan) {
      bucket.parameters.push_back(ready_order[k]);
      numel += parameters_[ready_order[k]].numel();
    }
    bucket.flat = torch::zeros({numel}, parameters_[0].options());
    int64_t offset = 0;
    for (size_t i : bucket.parameters) {
      torch::Tensor& p = parameters_[i];
      torch::Tensor view = bucket.flat.narrow(0, offset, p.numel()).view_as(p);
      if (p.grad().defined()) view.copy_(p.grad());
      // Backward then accumulates straight into the bucket: no copy in or out.
      p.mutable_grad() = view;
      offset += p.numel();
      bucket_of_[i] = buckets_.size();
    }
    buckets_.push_back(std::move(bucket));
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(parameters_[i]);
    hook_keys_.push_back(accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_gradient_ready(i);
          return outputs;
        })));
    accumulators_.push_back(std::move(accumulator));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hook_keys_[i]);
}

std::vector<int64_t> GradientReducer::bucket_bytes() const {
  std::vector<int64_t> sizes;
  for (const Bucket& b : buckets_) sizes.push_back(b.flat.numel() * static_cast<int64_t>(b.flat.element_size()));
  return sizes;
}

void GradientReducer::prepare_backward(bool last_micro_batch) {
  armed_ = last_micro_batch;
  if (!armed_) return;
  next_to_start_ = 0;
  for (Bucket& b : buckets_) {
    b.waiting = b.parameters.size();
    b.pending.reset();
    b.finished = {};
    b.tests = 0;
    b.done_in_backward = false;
  }
}

void GradientReducer::on_gradient_ready(size_t parameter) {
  if (!armed_) return;
  Bucket& bucket = buckets_[bucket_of_[parameter]];
  if (bucket.waiting > 0) --bucket.waiting;
  start_ready_buckets();
  // Under MPI a non-blocking collective advances only inside MPI calls: test the started ones.
  for (size_t b = 0; b < next_to_start_; ++b) note_if_done(b);
}

void GradientReducer::note_if_done(size_t index) {
  Bucket& b = buckets_[index];
  if (b.finished != ChromeTrace::Clock::time_point()) return;
  ++b.tests;
  if (b.pending->test()) b.finished = ChromeTrace::Clock::now();
}

void GradientReducer::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].waiting == 0) start(next_to_start_++);
}

void GradientReducer::start(size_t index) {
  Bucket& b = buckets_[index];
  b.started = ChromeTrace::Clock::now();
  b.pending =
      comm_.start_all_reduce_sum(b.flat, "all_reduce of gradient bucket " + std::to_string(index) + " (" +
                                             std::to_string(b.flat.numel() * b.flat.element_size()) + " bytes)");
}

void GradientReducer::finish() {
  if (!armed_) prepare_backward(true);  // no micro-batch of this step was armed
  for (Bucket& b : buckets_) {
    // Only backward's own tests count: one here could complete the bucket after backward ended.
    b.done_in_backward = b.finished != ChromeTrace::Clock::time_point();
    b.waiting = 0;
  }
  start_ready_buckets();
  for (size_t i = 0; i < buckets_.size(); ++i) {
    buckets_[i].pending->wait();
    note_if_done(i);
    if (trace_ != nullptr) {
      trace_->span("communication", "all_reduce bucket " + std::to_string(i), buckets_[i].started, buckets_[i].finished,
                   "{\"bytes\":" + std::to_string(buckets_[i].flat.numel() * buckets_[i].flat.element_size()) +
                       ",\"done_in_backward\":" + (buckets_[i].done_in_backward ? "true" : "false") +
                       ",\"tests_in_backward\":" + std::to_string(buckets_[i].tests) + "}");
    }
  }
  armed_ = false;
}

}  // namespace poet
