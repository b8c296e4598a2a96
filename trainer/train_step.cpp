// clear_gradients(), forward_backward(), clip_gradients().
#include "trainer/train_step.h"

#include <torch/nn/utils/clip_grad.h>

#include <limits>

#include "trainer/chunked_cross_entropy.h"

namespace poet {

void clear_gradients(PoetModel& model) {
  for (auto& p : model->parameters()) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

double forward_backward(PoetModel& model, const Batch& batch, const torch::Device& device, double divisor) {
  const torch::Tensor h = std::get<0>(model->hidden(batch.inputs.to(device)));  // (B, T, H)
  const torch::Tensor loss = chunked_linear_cross_entropy(h.reshape({-1, h.size(-1)}), model->output_weight(),
                                                          model->output_bias(), batch.targets.to(device).reshape({-1})) /
                             divisor;
  loss.backward();
  return loss.item<double>();
}

void all_reduce_gradients(PoetModel& model, Communicator& comm) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model->parameters()) {
    // A rank with no rows in its first micro-batch has no gradient yet: it contributes zeros.
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad().reshape({-1}));
  }
  torch::Tensor flat = torch::cat(grads);
  comm.all_reduce_sum(flat);
  int64_t offset = 0;
  for (auto& p : model->parameters()) {
    const int64_t n = p.numel();
    p.mutable_grad().copy_(flat.narrow(0, offset, n).view_as(p));
    offset += n;
  }
}

double clip_gradients(PoetModel& model, double max_norm) {
  return torch::nn::utils::clip_grad_norm_(model->parameters(),
                                           max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity());
}

}  // namespace poet
