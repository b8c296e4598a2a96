// Data-parallel gradient averaging that overlaps backward, after PyTorch DDP's reducer: the
// parameters' gradients live in a few flat buckets, formed once in the reverse order of parameter
// use (the order backward finishes them); a hook on each parameter's gradient accumulator marks
// it ready, and a bucket is all-reduced as soon as all its gradients are, while backward goes on
// with the layers before it. Buckets start in index order on every rank, so collectives match.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "collectives/communicator.h"
#include "common/chrome_trace.h"

namespace torch::autograd {
struct Node;
}

namespace poet {

// Groups parameters, given in the order their gradients become ready, into buckets: the first
// closes once it holds `first_bucket_bytes`, the others at `bucket_bytes`. Returns indices into
// `bytes`, each bucket in ready order.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<int64_t>& bytes, int64_t first_bucket_bytes,
                                              int64_t bucket_bytes);

class GradientReducer {
 public:
  // `parameters` in registration order (the model's forward uses them in this order). Each
  // parameter's gradient becomes a view into its bucket. `trace` may be null.
  GradientReducer(std::vector<torch::Tensor> parameters, Communicator& comm, int64_t first_bucket_bytes,
                  int64_t bucket_bytes, ChromeTrace* trace);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Call before each backward. Only the last micro-batch of a step all-reduces during backward;
  // the earlier ones just accumulate.
  void prepare_backward(bool last_micro_batch);
  // Starts the buckets that backward did not (a rank with no rows in its last micro-batch, an
  // unused parameter), then waits for every bucket. Gradients then hold the sum over ranks.
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  // Bucket sizes in bytes, in the order they are all-reduced.
  std::vector<int64_t> bucket_bytes() const;

 private:
  struct Bucket {
    std::vector<size_t> parameters;
    torch::Tensor flat;
    size_t waiting = 0;  // gradients not yet ready in this step
    std::unique_ptr<PendingCollective> pending;
    ChromeTrace::Clock::time_point started;
    ChromeTrace::Clock::time_point finished;  // when a test first saw it complete
    int tests = 0;                  // this rank's tests of it during backward: 1 is the one at its start
    bool done_in_backward = false;  // seen complete by one of those
  };
  void on_gradient_ready(size_t parameter);
  void start_ready_buckets();
  void start(size_t bucket);
  void note_if_done(size_t bucket);

  std::vector<torch::Tensor> parameters_;
  Communicator& comm_;
  ChromeTrace* trace_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hook_keys_;
  bool armed_ = false;
  size_t next_to_start_ = 0;
};

}  // namespace poet
