// native_bf16_units(): GCC's __builtin_cpu_supports reads CPUID and, for AVX-512 and AMX, that
// the operating system saves their registers (XCR0), which CPUID alone would not say.
#include "common/cpu_features.h"

namespace poet {

std::string native_bf16_units() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  std::string units;
  if (__builtin_cpu_supports("amx-bf16")) units = "AMX-BF16";
  if (__builtin_cpu_supports("avx512bf16")) units += (units.empty() ? "" : " and ") + std::string("AVX512-BF16");
  return units;
#else
  return "";  // Arm's BF16 extension and others are not probed: auto keeps fp32 there
#endif
}

}  // namespace poet
