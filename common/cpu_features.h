// What this processor computes natively, read from the CPU itself (CPUID, with the operating
// system's consent to use the registers), for choices that depend on it: run.precision's auto.
#pragma once

#include <string>

namespace poet {

// The processor's native bf16 units by name ("AMX-BF16", "AVX512-BF16", both joined by " and "),
// or "" where bf16 products have no hardware of their own: oneDNN then computes them in fp32
// arithmetic on converted values, which cannot beat fp32 itself.
std::string native_bf16_units();

}  // namespace poet
