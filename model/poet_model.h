// The poet: a character LSTM language model. Embedding -> dropout -> multi-layer LSTM (with
// dropout between layers) -> dropout -> linear to the vocabulary, optionally sharing the
// embedding matrix as the output weights.
//
// Precision: the weights (and so the gradients and AdamW's state) are always fp32. The compute
// dtype says what the LSTM and the output layer's products run in: fp32, or bf16 on copies of
// the weights cast at each forward, with the softmax and the loss in fp32. The casts are explicit
// rather than autocast's because autocast runs the cuDNN LSTM in fp16 whatever dtype it was asked
// for, and because the same casts then run on the CPU, where oneDNN has bf16 products too.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <tuple>

#include "config/train_config.h"

namespace poet {

using LstmState = std::tuple<torch::Tensor, torch::Tensor>;  // (h, c), each (layers, B, H)

// What each part of the model computes in, as observed on a forward pass (computed_dtypes()).
struct ComputedDtypes {
  torch::ScalarType weights;  // parameters, gradients and optimizer state
  torch::ScalarType lstm;     // the LSTM's output
  torch::ScalarType output;   // the output layer's logits
  std::string describe() const;
};

class PoetModelImpl : public torch::nn::Module {
 public:
  PoetModelImpl(int64_t vocab_size, const ModelConfig& config);

  // tokens (B, T) int64 -> fp32 logits (B, T, V) and the LSTM state after the last position.
  std::tuple<torch::Tensor, LstmState> forward(const torch::Tensor& tokens, const LstmState* state = nullptr);

  // The last hidden states, (B, T, H) in the compute dtype, and the output layer they feed:
  // training computes the loss from these without materialising all logits
  // (chunked_cross_entropy.h).
  std::tuple<torch::Tensor, LstmState> hidden(const torch::Tensor& tokens, const LstmState* state = nullptr);
  const torch::Tensor& output_weight() const;
  const torch::Tensor& output_bias() const;

  // fp32 (the default) or bf16; see the file comment.
  void set_compute_dtype(torch::ScalarType dtype);
  torch::ScalarType compute_dtype() const { return compute_dtype_; }
  // Runs one position in evaluation mode (no random numbers drawn) and reports the dtypes seen.
  ComputedDtypes computed_dtypes();
  torch::Device device() const { return output_bias().device(); }

  int64_t vocab_size() const { return vocab_size_; }
  // Multiply-adds of one forward pass per token, for FLOP-rate reporting.
  double forward_macs_per_token() const;

 private:
  // The output layer in the compute dtype: hidden (…, H) -> logits (…, V).
  torch::Tensor logits(const torch::Tensor& h) const;

  int64_t vocab_size_;
  ModelConfig config_;
  torch::ScalarType compute_dtype_ = torch::kFloat32;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear head_{nullptr};  // only when the weights are not tied
  torch::Tensor tied_bias_;          // only when they are
};
TORCH_MODULE(PoetModel);

}  // namespace poet
