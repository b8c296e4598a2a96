// The model's loss over a set of rows, without gradients: validation during training, and
// perplexity in `evaluate`.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <utility>

#include "model/batch_stream.h"
#include "model/poet_model.h"

namespace poet {

// The summed cross-entropy and the number of targets over the first `rows` rows of `data`, in
// evaluation mode, without gradients and in fp32 whatever the model's precision (the model is
// left in the mode and precision it had): a measure that a bf16 run and an fp32 run of the same
// weights report alike.
std::pair<double, int64_t> summed_loss(PoetModel& model, BatchStream& data, int64_t rows, int64_t batch_size,
                                       const torch::Device& device);

}  // namespace poet
