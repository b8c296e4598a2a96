// The output layer and its cross-entropy in one pass over row chunks. A batch of 128 x 125
// positions over a 6,544-character vocabulary makes a 419 MB logits tensor that log_softmax,
// the loss and their backward each sweep through memory; computed a chunk of rows at a time,
// the logits stay small, and the gradients of the hidden states, weight and bias are formed in
// the same pass (backward only scales them). Same arithmetic as linear + cross_entropy.
#pragma once

#include <torch/types.h>

namespace poet {

// Sum over rows of cross_entropy(hidden · weightᵀ + bias, targets).
// hidden (N, H), weight (V, H), bias (V), targets (N) int64 -> scalar.
torch::Tensor chunked_linear_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                           const torch::Tensor& bias, const torch::Tensor& targets,
                                           int64_t chunk_rows = 512);

}  // namespace poet
