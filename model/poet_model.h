// The poet: a character LSTM language model. Embedding -> dropout -> multi-layer LSTM (with
// dropout between layers) -> dropout -> linear to the vocabulary, optionally sharing the
// embedding matrix as the output weights.
//
// Precision: the weights (and so the gradients and AdamW's state) are always fp32. The LSTM and
// the output layer's products each run in fp32 or in bf16, on copies of the weights cast at each
// forward, with the softmax and the loss in fp32. The casts are explicit rather than autocast's
// because autocast runs the cuDNN LSTM in fp16 whatever dtype it was asked for.
//
// The LSTM runs one layer a call, with the dropout between layers applied here: every dropout
// mask comes from dropout_masks.h (a function of seed, step and global row, so that any world
// size trains alike), which cuDNN's multi-layer call, drawing from a random state of its own,
// cannot give.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <tuple>
#include <vector>

#include "config/train_config.h"
#include "model/dropout_masks.h"

namespace poet {

using LstmState = std::tuple<torch::Tensor, torch::Tensor>;  // (h, c), each (layers, B, H)

// What the LSTM and the output layer compute in.
struct Precision {
  torch::ScalarType lstm = torch::kFloat32;
  torch::ScalarType output = torch::kFloat32;
};

// run.precision's bf16 on `device`. On the CPU both parts run in bf16 (oneDNN's bf16 products).
// On CUDA the output layer does, and the LSTM stays fp32: cuDNN's fp32 LSTM already runs on TF32
// tensor cores and takes the weights in place, while a bf16 copy is either refused by cuDNN (in
// PyTorch releases whose cuDNN check admits only fp16, fp32 and fp64, a loop over time steps runs
// instead) or compacted and warned about on every call, being outside cuDNN's weight layout.
Precision mixed_precision(const torch::Device& device);

// What each part of the model computes in, as observed on a forward pass (computed_dtypes()).
struct ComputedDtypes {
  torch::ScalarType weights;  // parameters, gradients and optimizer state
  torch::ScalarType lstm;     // the LSTM's output
  bool lstm_tf32;             // an fp32 LSTM in cuDNN with TF32 allowed: its products round to TF32
  torch::ScalarType output;   // the output layer's logits
  std::string describe() const;
};

class PoetModelImpl : public torch::nn::Module {
 public:
  PoetModelImpl(int64_t vocab_size, const ModelConfig& config);

  // tokens (B, T) int64 -> fp32 logits (B, T, V) and the LSTM state after the last position.
  // In training mode with dropout, `dropout` says which masks (dropout_masks.h); it is required
  // there and ignored otherwise.
  std::tuple<torch::Tensor, LstmState> forward(const torch::Tensor& tokens, const LstmState* state = nullptr,
                                               const DropoutKey* dropout = nullptr);

  // The last hidden states, (B, T, H) in the LSTM's dtype, and the output layer they feed:
  // training computes the loss from these without materialising all logits
  // (chunked_cross_entropy.h).
  std::tuple<torch::Tensor, LstmState> hidden(const torch::Tensor& tokens, const LstmState* state = nullptr,
                                              const DropoutKey* dropout = nullptr);
  const torch::Tensor& output_weight() const;
  const torch::Tensor& output_bias() const;

  // fp32 throughout by default; see the file comment.
  void set_precision(Precision precision);
  const Precision& precision() const { return precision_; }
  // Runs one position in evaluation mode (no random numbers drawn) and reports the dtypes seen.
  ComputedDtypes computed_dtypes();
  torch::Device device() const { return output_bias().device(); }

  // Module::to(), then each LSTM layer's weights in a cuDNN buffer of their own (hidden()).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  int64_t vocab_size() const { return vocab_size_; }
  // Multiply-adds of one forward pass per token, for FLOP-rate reporting.
  double forward_macs_per_token() const;

 private:
  // The output layer in its dtype: hidden (…, H) -> logits (…, V).
  torch::Tensor logits(const torch::Tensor& h) const;
  // x (B, T, F), or (T, B, F) when `time_major`, with dropout site `site`'s masks applied.
  torch::Tensor drop(const torch::Tensor& x, int64_t site, bool time_major, const DropoutKey* key) const;
  void flatten_for_cudnn();

  int64_t vocab_size_;
  ModelConfig config_;
  Precision precision_;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  std::vector<std::vector<torch::Tensor>> layer_weights_;  // each layer's w_ih, w_hh, b_ih, b_hh
  torch::nn::Linear head_{nullptr};                        // only when the weights are not tied
  torch::Tensor tied_bias_;                                // only when they are
};
TORCH_MODULE(PoetModel);

}  // namespace poet
