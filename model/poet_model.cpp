// PoetModelImpl: construction and forward.
#include "model/poet_model.h"

#include <torch/nn/functional/linear.h>

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

std::tuple<torch::Tensor, LstmState> PoetModelImpl::hidden(const torch::Tensor& tokens, const LstmState* state) {
  const torch::Tensor x = dropout_(embedding_(tokens));  // (B, T, E)
  auto [output, new_state] = state != nullptr ? lstm_(x, *state) : lstm_(x);
  return {dropout_(output), new_state};  // (B, T, H)
}

const torch::Tensor& PoetModelImpl::output_weight() const {
  return config_.tie_weights ? embedding_->weight : head_->weight;
}

const torch::Tensor& PoetModelImpl::output_bias() const { return config_.tie_weights ? tied_bias_ : head_->bias; }

std::tuple<torch::Tensor, LstmState> PoetModelImpl::forward(const torch::Tensor& tokens, const LstmState* state) {
  auto [h, new_state] = hidden(tokens, state);
  return {torch::nn::functional::linear(h, output_weight(), output_bias()), new_state};  // (B, T, V)
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
