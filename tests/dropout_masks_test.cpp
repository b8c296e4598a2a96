// The dropout masks of model/dropout_masks.h: a row's mask depends on the seed, the step, the site
// and the row's place in the global batch and on nothing else (not on which other rows a rank
// holds), drops its share, is independent between rows and between neighbouring elements, and
// the tensor-operation version that other devices run gives the CPU loop's bits.
#include <gtest/gtest.h>

#include "model/dropout_masks.h"

namespace poet {
namespace {

torch::Tensor rows(std::vector<int64_t> r) { return torch::tensor(r, torch::kInt64); }

TEST(DropoutMasks, ARowsMaskIsTheSameWhicheverRowsBesideIt) {
  const torch::Tensor all = dropout_mask({1234, 17, rows({0, 1, 2, 3, 4, 5, 6, 7})}, 1, 9, 13, 0.3, torch::kFloat32);
  const torch::Tensor some = dropout_mask({1234, 17, rows({5, 2})}, 1, 9, 13, 0.3, torch::kFloat32);
  EXPECT_TRUE(some[0].equal(all[5]));
  EXPECT_TRUE(some[1].equal(all[2]));
  // Every other input changes it.
  const auto differs = [&](const torch::Tensor& other) { return !other[0].equal(all[5]); };
  EXPECT_TRUE(differs(dropout_mask({1235, 17, rows({5})}, 1, 9, 13, 0.3, torch::kFloat32)));  // seed
  EXPECT_TRUE(differs(dropout_mask({1234, 18, rows({5})}, 1, 9, 13, 0.3, torch::kFloat32)));  // step
  EXPECT_TRUE(differs(dropout_mask({1234, 17, rows({5})}, 2, 9, 13, 0.3, torch::kFloat32)));  // site
  EXPECT_TRUE(differs(dropout_mask({1234, 17, rows({6})}, 1, 9, 13, 0.3, torch::kFloat32)));  // row
}

TEST(DropoutMasks, DropTheirShareAndScaleTheRest) {
  const torch::Tensor mask = dropout_mask({1, 0, torch::arange(64)}, 0, 64, 320, 0.3, torch::kFloat32);
  const double dropped = (mask == 0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(dropped, 0.3, 0.003) << "1.3 million draws";
  const torch::Tensor kept = mask.masked_select(mask != 0);
  EXPECT_FLOAT_EQ(kept.min().item<float>(), static_cast<float>(65536.0 / (65536 - 19661)));  // 0.3 in 16 bits
  EXPECT_TRUE(kept.min().equal(kept.max()));
  EXPECT_NEAR(mask.to(torch::kFloat64).mean().item<double>(), 1.0, 0.005);  // dropout keeps the expectation
  EXPECT_TRUE(dropout_mask({1, 0, rows({0})}, 0, 4, 4, 0.0, torch::kFloat32).eq(1).all().item<bool>());
}

// The correlation of two 0/1 sequences.
double correlation(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = (a != 0).to(torch::kFloat64);
  const torch::Tensor y = (b != 0).to(torch::kFloat64);
  const torch::Tensor cx = x - x.mean();
  const torch::Tensor cy = y - y.mean();
  return ((cx * cy).mean() / (cx.std(false) * cy.std(false))).item<double>();
}

TEST(DropoutMasks, RowsAndNeighboursAreIndependent) {
  // Rows 0..3 are what ranks 0..3 would each hold at np 4: their masks must not repeat.
  const torch::Tensor mask = dropout_mask({1234, 5, torch::arange(4)}, 0, 64, 320, 0.5, torch::kFloat32);
  for (int64_t r = 1; r < 4; ++r) {
    EXPECT_LT(std::abs(correlation(mask[0].flatten(), mask[r].flatten())), 0.02) << "rows 0 and " << r;
  }
  const torch::Tensor flat = mask[0].flatten();
  for (int64_t lag : {1, 2, 3, 4, 320}) {  // the four lanes of one draw, the next word, the next position
    const int64_t n = flat.size(0) - lag;
    EXPECT_LT(std::abs(correlation(flat.narrow(0, 0, n), flat.narrow(0, lag, n))), 0.02) << "lag " << lag;
  }
}

TEST(DropoutMasks, TensorOperationsGiveTheLoopsBits) {
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const DropoutKey key{99, 123456789, rows({0, 3, 1000000, 7})};
    // 7 x 5 = 35 elements a row: the last 64-bit draw only partly used.
    const torch::Tensor loop = dropout_mask(key, 2, 7, 5, 0.25, dtype);
    const torch::Tensor ops = dropout_mask_by_tensor_ops(key, 2, 7, 5, 0.25, dtype);
    EXPECT_EQ(ops.scalar_type(), dtype);
    EXPECT_TRUE(loop.equal(ops)) << c10::toString(dtype);
  }
}

TEST(DropoutMasks, BadInputIsRefused) {
  EXPECT_THROW(dropout_mask({1, 0, rows({0})}, 0, 2, 2, 1.0, torch::kFloat32), std::exception);
  EXPECT_THROW(dropout_mask({1, 0, torch::zeros({2}, torch::kFloat32)}, 0, 2, 2, 0.1, torch::kFloat32),
               std::exception);
}

}  // namespace
}  // namespace poet
