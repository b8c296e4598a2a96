// PoetModelImpl: construction, forward, and the compute dtype.
#include "model/poet_model.h"

#include <torch/nn/functional/linear.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace poet {

PoetModelImpl::PoetModelImpl(int64_t vocab_size, const ModelConfig& config) : vocab_size_(vocab_size), config_(config) {
  embedding_ = register_module("embedding", torch::nn::Embedding(vocab_size, config.embed));
  dropout_ = register_module("dropout", torch::nn::Dropout(config.dropout));
  lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(config.embed, config.hidden)
                                                      .num_layers(config.layers)
                                                      .dropout(config.layers > 1 ? config.dropout : 0.0)
                                                      .batch_first(true)));
  if (config.tie_weights) {
    tied_bias_ = register_parameter("output_bias", torch::zeros({vocab_size}));
  } else {
    head_ = register_module("head", torch::nn::Linear(config.hidden, vocab_size));
  }
}

void PoetModelImpl::set_compute_dtype(torch::ScalarType dtype) {
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) {
    throw Error(std::string("the model computes in fp32 or bf16, not ") + c10::toString(dtype));
  }
  compute_dtype_ = dtype;
}

// The LSTM through torch::lstm rather than the module, so that it can be given weights in the
// compute dtype. In fp32 the casts return the parameters themselves (on CUDA, views into the
// module's flattened cuDNN buffer), and the call is the module's own.
std::tuple<torch::Tensor, LstmState> PoetModelImpl::hidden(const torch::Tensor& tokens, const LstmState* state) {
  const torch::Tensor x = dropout_(embedding_(tokens)).to(compute_dtype_);  // (B, T, E)
  const auto parameters = lstm_->named_parameters();
  std::vector<torch::Tensor> weights;
  for (int64_t l = 0; l < config_.layers; ++l) {
    for (const char* name : {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"}) {
      weights.push_back(parameters[name + std::to_string(l)].to(compute_dtype_));
    }
  }
  torch::Tensor h0;
  torch::Tensor c0;
  if (state != nullptr) {
    h0 = std::get<0>(*state).to(compute_dtype_);
    c0 = std::get<1>(*state).to(compute_dtype_);
  } else {
    h0 = c0 = torch::zeros({config_.layers, tokens.size(0), config_.hidden}, x.options());
  }
  const auto& o = lstm_->options;
  auto [output, h, c] = torch::lstm(x, {h0, c0}, weights, /*has_biases=*/true, o.num_layers(), o.dropout(),
                                    is_training(), /*bidirectional=*/false, /*batch_first=*/true);
  return {dropout_(output), LstmState{h, c}};  // (B, T, H)
}

const torch::Tensor& PoetModelImpl::output_weight() const {
  return config_.tie_weights ? embedding_->weight : head_->weight;
}

const torch::Tensor& PoetModelImpl::output_bias() const { return config_.tie_weights ? tied_bias_ : head_->bias; }

torch::Tensor PoetModelImpl::logits(const torch::Tensor& h) const {
  return torch::nn::functional::linear(h, output_weight().to(h.scalar_type()), output_bias().to(h.scalar_type()));
}

std::tuple<torch::Tensor, LstmState> PoetModelImpl::forward(const torch::Tensor& tokens, const LstmState* state) {
  auto [h, new_state] = hidden(tokens, state);
  return {logits(h).to(torch::kFloat32), new_state};  // (B, T, V)
}

ComputedDtypes PoetModelImpl::computed_dtypes() {
  torch::NoGradGuard no_grad;
  const bool training = is_training();
  eval();
  const auto h = std::get<0>(hidden(torch::zeros({1, 1}, torch::dtype(torch::kInt64).device(device()))));
  const ComputedDtypes seen{output_bias().scalar_type(), h.scalar_type(), logits(h).scalar_type()};
  train(training);
  return seen;
}

std::string ComputedDtypes::describe() const {
  const auto name = [](torch::ScalarType t) -> std::string {
    return t == torch::kFloat32 ? "fp32" : t == torch::kBFloat16 ? "bf16" : c10::toString(t);
  };
  return "LSTM " + name(lstm) + ", output layer " + name(output) + ", softmax and loss fp32, weights and AdamW " +
         name(weights);
}

double PoetModelImpl::forward_macs_per_token() const {
  const double e = static_cast<double>(config_.embed);
  const double h = static_cast<double>(config_.hidden);
  // Each layer: 4 gates over [input, hidden]; then the output projection.
  double macs = 4.0 * h * (e + h);
  macs += static_cast<double>(config_.layers - 1) * 4.0 * h * (h + h);
  macs += h * static_cast<double>(vocab_size_);
  return macs;
}

}  // namespace poet
