// clear_gradients(), forward_backward(), clip_gradients().
#include "trainer/train_step.h"

#include <ATen/autocast_mode.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/version.h>

#include <algorithm>
#include <limits>

#include "model/chunked_cross_entropy.h"

namespace poet {

namespace {

// CUDA autocast to bf16 for a scope. LibTorch 2.4 replaced the GPU-only calls of 1.13.
class CudaBf16Autocast {
 public:
  CudaBf16Autocast() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  }
  ~CudaBf16Autocast() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  CudaBf16Autocast(const CudaBf16Autocast&) = delete;
  CudaBf16Autocast& operator=(const CudaBf16Autocast&) = delete;
};

}  // namespace

void clear_gradients(PoetModel& model) {
  for (auto& p : model->parameters()) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

double forward_backward(PoetModel& model, const Batch& batch, const torch::Device& device, double divisor, bool bf16,
                        ChromeTrace* trace) {
  torch::Tensor loss;
  {
    TraceScope span(trace, "compute", "forward");
    torch::Tensor h;
    if (bf16) {
      CudaBf16Autocast autocast;
      h = std::get<0>(model->hidden(batch.inputs.to(device))).to(torch::kFloat32);
    } else {
      h = std::get<0>(model->hidden(batch.inputs.to(device)));  // (B, T, H)
    }
    loss = chunked_linear_cross_entropy(h.reshape({-1, h.size(-1)}), model->output_weight(), model->output_bias(),
                                        batch.targets.to(device).reshape({-1})) /
           divisor;
  }
  {
    TraceScope span(trace, "compute", "backward");
    loss.backward();
  }
  return loss.item<double>();
}

double clip_gradients(PoetModel& model, double max_norm) {
  return torch::nn::utils::clip_grad_norm_(model->parameters(),
                                           max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity());
}

}  // namespace poet
