// Dropout masks that depend on what is trained, never on who trains it: each mask is a function
// of the run's seed, the step, the dropout site and the row's place in the step's global batch.
// A row then gets the same mask whichever rank holds it, so np 1, 2 and 4 train alike with
// dropout on; the ranks' masks are independent (their rows differ); and a resumed run draws what
// the uninterrupted one drew with no generator state in the checkpoint.
//
// The bits come from splitmix64 (Steele, Lea and Flood 2014) over a counter: a row's key mixes
// seed, step, site and row, and each 64-bit output gives four elements 16 bits each. The CPU
// runs a loop over rows; other devices run the same arithmetic as tensor operations
// (dropout_mask_by_tensor_ops, checked against the loop on the CPU by the tests).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace poet {

struct DropoutKey {
  uint64_t seed = 0;
  int64_t step = 0;
  torch::Tensor rows;  // (B,) int64 on the CPU: each row's index in the step's global batch
};

// The keep-mask of dropout `p` for a (B, T, F) activation at dropout site `site`: each element
// 0 or 1/(1 - p') in `options`' dtype and device, where p' is p rounded to a multiple of 2^-16.
torch::Tensor dropout_mask(const DropoutKey& key, int64_t site, int64_t time, int64_t features, double p,
                           const torch::TensorOptions& options);

// The same mask computed by tensor operations on `options`' device (dropout_mask uses it off the
// CPU).
torch::Tensor dropout_mask_by_tensor_ops(const DropoutKey& key, int64_t site, int64_t time, int64_t features,
                                         double p, const torch::TensorOptions& options);

}  // namespace poet
