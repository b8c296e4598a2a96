// mean_log_probs(): poems padded into batches, one forward pass a batch.
#include "poems/poem_likelihood.h"

#include <torch/utils.h>

#include <algorithm>

#include "data/text_cleaner.h"

namespace poet {

namespace {

constexpr size_t kBatch = 32;

}  // namespace

std::vector<double> mean_log_probs(PoetModel& model, const Vocabulary& vocab,
                                   const std::vector<std::vector<std::u32string>>& poems) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<double> result;
  for (size_t first = 0; first < poems.size(); first += kBatch) {
    const size_t n = std::min(kBatch, poems.size() - first);
    std::vector<std::vector<int64_t>> ids(n);
    size_t longest = 0;
    for (size_t i = 0; i < n; ++i) {
      ids[i].push_back(Vocabulary::kBos);
      const auto& lines = poems[first + i];
      for (size_t l = 0; l < lines.size(); ++l) {
        for (char32_t c : lines[l]) ids[i].push_back(vocab.id_of(c));
        ids[i].push_back(vocab.id_of(l % 2 == 0 ? U'，' : U'。'));
      }
      longest = std::max(longest, ids[i].size());
    }
    // Padding goes after each poem, where it cannot change what comes before.
    torch::Tensor tokens = torch::full({static_cast<int64_t>(n), static_cast<int64_t>(longest)}, Vocabulary::kPad,
                                       torch::kInt64);  // (B, T)
    for (size_t i = 0; i < n; ++i) {
      tokens[static_cast<int64_t>(i)].narrow(0, 0, static_cast<int64_t>(ids[i].size())).copy_(torch::tensor(ids[i]));
    }
    auto [logits, state] = model->forward(tokens.to(model->device()));
    const torch::Tensor log_p = torch::log_softmax(logits.to(torch::kCPU, torch::kFloat32), -1);  // (B, T, V)
    const auto lp = log_p.accessor<float, 3>();
    for (size_t i = 0; i < n; ++i) {
      double sum = 0;
      int64_t characters = 0;
      for (size_t t = 1; t < ids[i].size(); ++t) {
        if (!is_ideograph(vocab.character(static_cast<int32_t>(ids[i][t])))) continue;
        sum += lp[static_cast<int64_t>(i)][static_cast<int64_t>(t - 1)][ids[i][t]];
        ++characters;
      }
      result.push_back(characters > 0 ? sum / static_cast<double>(characters) : 0.0);
    }
  }
  return result;
}

}  // namespace poet
