// The pieces of one optimizer step, shared by the training loop and the benchmark so that the
// benchmark times exactly what `poet_dist train` does.
#pragma once

#include <torch/optim/optimizer.h>

#include "collectives/communicator.h"
#include "trainer/batch_stream.h"
#include "trainer/poet_model.h"

namespace poet {

// Zeroes the gradients in place. Dropping them instead (PyTorch's set_to_none) measured no
// faster here: the next backward then maps and faults in tens of megabytes afresh each step.
void clear_gradients(PoetModel& model);

// Forward and backward of one micro-batch; the summed token loss is divided by `divisor` (the
// target count of the whole step) before backward, so gradients add up to the step's mean.
// Returns the micro-batch's contribution to the step loss.
double forward_backward(PoetModel& model, const Batch& batch, const torch::Device& device, double divisor);

// Sums every gradient across ranks through one flat buffer. Each rank divided its loss by the
// global batch's target count, so the sum is the global mean's gradient, whatever the world size.
void all_reduce_gradients(PoetModel& model, Communicator& comm);

// Clips by the global gradient norm (0: no clipping) and returns the norm before clipping.
double clip_gradients(PoetModel& model, double max_norm);

}  // namespace poet
