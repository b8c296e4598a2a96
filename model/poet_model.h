// The poet: a character LSTM language model. Embedding -> dropout -> multi-layer LSTM (with
// dropout between layers) -> dropout -> linear to the vocabulary, optionally sharing the
// embedding matrix as the output weights.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include <tuple>

#include "config/train_config.h"

namespace poet {

using LstmState = std::tuple<torch::Tensor, torch::Tensor>;  // (h, c), each (layers, B, H)

class PoetModelImpl : public torch::nn::Module {
 public:
  PoetModelImpl(int64_t vocab_size, const ModelConfig& config);

  // tokens (B, T) int64 -> logits (B, T, V) and the LSTM state after the last position.
  std::tuple<torch::Tensor, LstmState> forward(const torch::Tensor& tokens, const LstmState* state = nullptr);

  // The last hidden states, (B, T, H), and the output layer they feed: training computes the
  // loss from these without materialising all logits (chunked_cross_entropy.h).
  std::tuple<torch::Tensor, LstmState> hidden(const torch::Tensor& tokens, const LstmState* state = nullptr);
  const torch::Tensor& output_weight() const;
  const torch::Tensor& output_bias() const;

  int64_t vocab_size() const { return vocab_size_; }
  // Multiply-adds of one forward pass per token, for FLOP-rate reporting.
  double forward_macs_per_token() const;

 private:
  int64_t vocab_size_;
  ModelConfig config_;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear head_{nullptr};  // only when the weights are not tied
  torch::Tensor tied_bias_;          // only when they are
};
TORCH_MODULE(PoetModel);

}  // namespace poet
