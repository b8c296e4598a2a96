// summed_loss(): cross-entropy summed over rows in evaluation mode, in fp32.
#include "model/summed_loss.h"

#include <torch/nn/functional/loss.h>

#include <algorithm>

namespace poet {

namespace {

// The model in evaluation mode and fp32 for as long as it lives; as it was before, after.
class Fp32Evaluation {
 public:
  explicit Fp32Evaluation(PoetModel& model)
      : model_(model), precision_(model->precision()), training_(model->is_training()) {
    model_->eval();
    model_->set_precision(Precision{});
  }
  ~Fp32Evaluation() {
    model_->set_precision(precision_);
    model_->train(training_);
  }
  Fp32Evaluation(const Fp32Evaluation&) = delete;
  Fp32Evaluation& operator=(const Fp32Evaluation&) = delete;

 private:
  PoetModel& model_;
  const Precision precision_;
  const bool training_;
};

}  // namespace

std::pair<double, int64_t> summed_loss(PoetModel& model, BatchStream& data, int64_t rows, int64_t batch_size,
                                       const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const Fp32Evaluation fp32(model);
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
  return {loss_sum, targets};
}

}  // namespace poet
