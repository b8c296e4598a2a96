// A seeded shuffle whose output is the same with every standard library (std::shuffle's is
// implementation-defined), so dataset shards and training order never depend on the toolchain.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace poet {

// Fisher-Yates driven by mt19937_64, whose sequence the C++ standard fixes.
inline void seeded_shuffle(std::vector<size_t>& items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng() % i]);
}

}  // namespace poet
