// summed_loss(): cross-entropy summed over rows in evaluation mode.
#include "model/summed_loss.h"

#include <torch/nn/functional/loss.h>

#include <algorithm>

namespace poet {

std::pair<double, int64_t> summed_loss(PoetModel& model, BatchStream& data, int64_t rows, int64_t batch_size,
                                       const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model->eval();
  double loss_sum = 0;
  int64_t targets = 0;
  for (int64_t begin = 0; begin < rows; begin += batch_size) {
    const Batch b = data.rows(0, begin, std::min(rows, begin + batch_size));
    if (b.inputs.size(0) == 0) continue;
    const auto logits = std::get<0>(model->forward(b.inputs.to(device)));
    loss_sum +=
        torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), b.targets.to(device).reshape({-1}),
                                             torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    targets += b.targets.numel();
  }
  model->train();
  return {loss_sum, targets};
}

}  // namespace poet
