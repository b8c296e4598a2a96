// choose_precision(): run.precision's auto, and what each setting means on this device.
#include "model/precision_choice.h"

#include "common/error.h"

namespace poet {

PrecisionChoice choose_precision(const std::string& setting, const torch::Device& device,
                                 const std::string& cpu_bf16_units) {
  const std::string where = device.is_cuda()         ? std::string("on CUDA")
                            : cpu_bf16_units.empty() ? std::string("and this CPU has no native bf16 units")
                                                     : "and this CPU has " + cpu_bf16_units;
  if (setting == "fp32") return {Precision{}, "fp32: run.precision fp32"};
  if (setting == "bf16") {
    const bool emulated = !device.is_cuda() && cpu_bf16_units.empty();
    return {mixed_precision(device),
            "bf16: run.precision bf16, " + where +
                (emulated ? " (bf16 is emulated in fp32 arithmetic: no faster than fp32)" : "")};
  }
  if (setting != "auto") throw Error("run.precision is '" + setting + "', expected auto, fp32 or bf16");
  const bool bf16 = device.is_cuda() || !cpu_bf16_units.empty();
  return {bf16 ? mixed_precision(device) : Precision{},
          std::string(bf16 ? "bf16" : "fp32") + ": run.precision auto, " + where};
}

}  // namespace poet
