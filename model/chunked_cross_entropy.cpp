// chunked_linear_cross_entropy(): a custom autograd function that computes its gradients in forward.
#include "model/chunked_cross_entropy.h"

#include <torch/autograd.h>

namespace poet {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ChunkedLinearCrossEntropy : public torch::autograd::Function<ChunkedLinearCrossEntropy> {
 public:
  // hidden may be bf16 (the output layer's dtype): the products then run in bf16 on cast copies
  // of the weights; the softmax and the loss are fp32, and each chunk's bf16 weight gradient is
  // summed into an fp32 one.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& targets, int64_t chunk_rows) {
    const int64_t rows = hidden.size(0);
    const torch::Tensor w = weight.to(hidden.scalar_type());
    const torch::Tensor b = bias.to(hidden.scalar_type());
    torch::Tensor grad_hidden = torch::empty_like(hidden);
    torch::Tensor grad_weight = torch::zeros_like(weight);
    torch::Tensor grad_bias = torch::zeros_like(bias);
    torch::Tensor loss = torch::zeros({}, weight.options());
    const torch::ScalarType softmax_dtype = at::promote_types(hidden.scalar_type(), torch::kFloat32);
    for (int64_t start = 0; start < rows; start += chunk_rows) {
      const int64_t n = std::min(chunk_rows, rows - start);
      const torch::Tensor h = hidden.narrow(0, start, n);                  // (n, H)
      const torch::Tensor t = targets.narrow(0, start, n).unsqueeze(1);    // (n, 1)
      torch::Tensor logits = torch::addmm(b, h, w.t()).to(softmax_dtype);  // (n, V)
      const torch::Tensor lse = logits.logsumexp(1, /*keepdim=*/true);     // (n, 1)
      loss += (lse - logits.gather(1, t)).sum();
      // d(sum loss)/d(logits) = softmax - one_hot, built in place of the logits.
      logits.sub_(lse).exp_();
      logits.scatter_add_(1, t, torch::full({n, 1}, -1.0, logits.options()));
      grad_bias += logits.sum(0);
      const torch::Tensor d = logits.to(hidden.scalar_type());
      grad_hidden.narrow(0, start, n).copy_(torch::mm(d, w));
      if (d.scalar_type() == grad_weight.scalar_type()) {
        grad_weight.addmm_(d.t(), h);
      } else {
        grad_weight += torch::mm(d.t(), h);
      }
    }
    ctx->save_for_backward({grad_hidden, grad_weight, grad_bias});
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_output) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& g = grad_output[0];
    return {saved[0] * g, saved[1] * g, saved[2] * g, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor chunked_linear_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                           const torch::Tensor& bias, const torch::Tensor& targets,
                                           int64_t chunk_rows) {
  return ChunkedLinearCrossEntropy::apply(hidden, weight, bias, targets, chunk_rows);
}

}  // namespace poet
