// The pieces of one optimizer step, shared by the training loop and the benchmark so that the
// benchmark times exactly what `poet_dist train` does.
#pragma once

#include <torch/optim/optimizer.h>

#include <utility>

#include "common/chrome_trace.h"
#include "model/batch_stream.h"
#include "model/poet_model.h"

namespace poet {

// Zeroes the gradients in place. Dropping them instead (PyTorch's set_to_none) measured no
// faster here: the next backward then maps and faults in tens of megabytes afresh each step.
void clear_gradients(PoetModel& model);

// Forward and backward of one micro-batch; the summed token loss is divided by `divisor` (the
// target count of the whole step) before backward, so gradients add up to the step's mean.
// Returns the micro-batch's contribution to the step loss. Each rank divides by the global
// batch's target count, so summing gradients over ranks gives the global mean's gradient,
// whatever the world size. The model's compute dtype applies (poet_model.h). `dropout` names
// the masks (dropout_masks.h). `trace` (may be null) gets a forward and a backward span.
double forward_backward(PoetModel& model, const Batch& batch, const torch::Device& device, double divisor,
                        const DropoutKey& dropout, ChromeTrace* trace = nullptr);

// Clips by the global gradient norm (0: no clipping) and returns the norm before clipping.
double clip_gradients(PoetModel& model, double max_norm);

}  // namespace poet
