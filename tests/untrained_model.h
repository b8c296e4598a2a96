// The small untrained model the sampling tests decode with: the form, tone and rhyme
// constraints must hold whatever its weights, and a fixed seed keeps its poems repeatable.
#pragma once

#include <torch/utils.h>

#include <cstdint>

#include "config/train_config.h"
#include "model/poet_model.h"

namespace poet::test {

inline PoetModel untrained_model(int64_t vocab_size) {
  torch::manual_seed(3);
  ModelConfig config;
  config.embed = 16;
  config.hidden = 32;
  config.layers = 1;
  return PoetModel(vocab_size, config);
}

}  // namespace poet::test
