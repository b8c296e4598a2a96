// clear_gradients(), forward_backward(), clip_gradients().
#include "trainer/train_step.h"

#include <torch/nn/utils/clip_grad.h>

#include <algorithm>
#include <limits>

#include "model/chunked_cross_entropy.h"

namespace poet {

void clear_gradients(PoetModel& model) {
  for (auto& p : model->parameters()) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

double forward_backward(PoetModel& model, const Batch& batch, const torch::Device& device, double divisor,
                        const DropoutKey& dropout, ChromeTrace* trace) {
  torch::Tensor loss;
  {
    TraceScope span(trace, "compute", "forward");
    const torch::Tensor h = std::get<0>(model->hidden(batch.inputs.to(device), nullptr, &dropout))
                                .to(model->precision().output);  // (B, T, H)
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
