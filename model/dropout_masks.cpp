// dropout_mask(): splitmix64 over (seed, step, site, row, counter), as a CPU loop and as tensor
// operations that give the same bits.
#include "model/dropout_masks.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "common/error.h"

namespace poet {

namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;  // splitmix64's increment
constexpr uint64_t kMix1 = 0xbf58476d1ce4e5b9ULL;
constexpr uint64_t kMix2 = 0x94d049bb133111ebULL;
constexpr int kLanes = 4;  // 16-bit draws a 64-bit output
constexpr double kLevels = 65536.0;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * kMix1;
  z = (z ^ (z >> 27)) * kMix2;
  return z ^ (z >> 31);
}

// The start of a row's counter: every input goes through the mixer, so nearby seeds, steps and
// rows give unrelated streams.
std::vector<uint64_t> row_keys(const DropoutKey& key, int64_t site) {
  if (!key.rows.defined() || key.rows.dim() != 1 || key.rows.scalar_type() != torch::kInt64 || key.rows.is_cuda()) {
    throw Error("dropout_mask: the rows must be a CPU int64 vector");
  }
  const uint64_t base = mix(mix(mix(key.seed + kGamma) + static_cast<uint64_t>(key.step)) +
                            static_cast<uint64_t>(site));
  std::vector<uint64_t> keys;
  const auto rows = key.rows.accessor<int64_t, 1>();
  for (int64_t b = 0; b < rows.size(0); ++b) keys.push_back(mix(base + static_cast<uint64_t>(rows[b])));
  return keys;
}

// A draw below this drops the element.
uint64_t drop_below(double p) {
  const auto threshold = static_cast<uint64_t>(std::llround(p * kLevels));
  if (!(p >= 0 && threshold < static_cast<uint64_t>(kLevels))) {
    throw Error("dropout_mask: p is " + std::to_string(p) + ", expected at least 0 and below 1 - 2^-17");
  }
  return threshold;
}

double keep_scale(uint64_t threshold) { return kLevels / (kLevels - static_cast<double>(threshold)); }

// x >> k on uint64, for int64 tensors whose >> is arithmetic.
torch::Tensor shift_right(const torch::Tensor& x, int k) {
  return torch::bitwise_and(torch::bitwise_right_shift(x, k), static_cast<int64_t>((~0ULL) >> k));
}

torch::Tensor mix(torch::Tensor z) {
  z = torch::bitwise_xor(z, shift_right(z, 30)).mul(static_cast<int64_t>(kMix1));
  z = torch::bitwise_xor(z, shift_right(z, 27)).mul(static_cast<int64_t>(kMix2));
  return torch::bitwise_xor(z, shift_right(z, 31));
}

}  // namespace

torch::Tensor dropout_mask(const DropoutKey& key, int64_t site, int64_t time, int64_t features, double p,
                           const torch::TensorOptions& options) {
  if (!options.device().is_cpu()) return dropout_mask_by_tensor_ops(key, site, time, features, p, options);
  const std::vector<uint64_t> keys = row_keys(key, site);
  const uint64_t threshold = drop_below(p);
  const int64_t per_row = time * features;
  const int64_t rows = static_cast<int64_t>(keys.size());
  torch::Tensor mask = torch::empty({rows, time, features}, options);
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, mask.scalar_type(), "dropout_mask", [&] {
    const auto scale = static_cast<scalar_t>(keep_scale(threshold));
    scalar_t* out = mask.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        scalar_t* row = out + b * per_row;
        for (int64_t word = 0; word * kLanes < per_row; ++word) {
          const uint64_t bits = mix(keys[static_cast<size_t>(b)] + static_cast<uint64_t>(word + 1) * kGamma);
          for (int64_t lane = 0; lane < kLanes && word * kLanes + lane < per_row; ++lane) {
            const bool keep = ((bits >> (16 * lane)) & 0xffff) >= threshold;
            row[word * kLanes + lane] = keep ? scale : static_cast<scalar_t>(0);
          }
        }
      }
    });
  });
  return mask;
}

torch::Tensor dropout_mask_by_tensor_ops(const DropoutKey& key, int64_t site, int64_t time, int64_t features,
                                         double p, const torch::TensorOptions& options) {
  const std::vector<uint64_t> keys = row_keys(key, site);
  const uint64_t threshold = drop_below(p);
  const int64_t per_row = time * features;
  const int64_t words = (per_row + kLanes - 1) / kLanes;
  const auto on_device = torch::TensorOptions().dtype(torch::kInt64).device(options.device());
  const torch::Tensor row_key =
      torch::from_blob(const_cast<uint64_t*>(keys.data()), {static_cast<int64_t>(keys.size()), 1}, torch::kInt64)
          .to(on_device);
  const torch::Tensor counter = torch::arange(1, words + 1, on_device).mul(static_cast<int64_t>(kGamma));
  const torch::Tensor bits = mix(row_key + counter);  // (B, words)
  std::vector<torch::Tensor> lanes;
  for (int lane = 0; lane < kLanes; ++lane) {
    lanes.push_back(torch::bitwise_and(shift_right(bits, 16 * lane), 0xffff));
  }
  const torch::Tensor draws = torch::stack(lanes, 2).reshape({row_key.size(0), words * kLanes}).narrow(1, 0, per_row);
  return draws.ge(static_cast<int64_t>(threshold)).to(options.dtype()).mul(keep_scale(threshold)).view(
      {row_key.size(0), time, features});
}

}  // namespace poet
