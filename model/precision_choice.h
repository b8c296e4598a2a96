// run.precision (auto, fp32 or bf16) resolved on a device, the same way for train, sample and
// evaluate, with the reason that the job summary prints.
#pragma once

#include <torch/types.h>

#include <string>

#include "common/cpu_features.h"
#include "model/poet_model.h"

namespace poet {

struct PrecisionChoice {
  Precision precision;
  std::string reason;  // "bf16: run.precision auto, and this CPU has AVX512-BF16"
};

// auto is bf16 on CUDA, and on a CPU with native bf16 units (`cpu_bf16_units`, as
// native_bf16_units() names them; a parameter so that tests can stand in any processor); fp32 on
// other CPUs, where bf16 products are computed in fp32 arithmetic and gain nothing.
PrecisionChoice choose_precision(const std::string& setting, const torch::Device& device,
                                 const std::string& cpu_bf16_units = native_bf16_units());

}  // namespace poet
