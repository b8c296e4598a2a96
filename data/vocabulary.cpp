// Vocabulary construction, lookup and checksum.
#include "data/vocabulary.h"

#include <xxhash.h>

#include <algorithm>

#include "common/error.h"
#include "common/utf8.h"

namespace poet {

namespace {
const char* const kSpecialTokens[Vocabulary::kNumSpecial] = {"<pad>", "<bos>", "<eos>", "<unk>"};
}

Vocabulary Vocabulary::from_counts(const std::unordered_map<char32_t, int64_t>& counts, int64_t min_count) {
  std::vector<std::pair<char32_t, int64_t>> kept;
  for (const auto& [c, n] : counts) {
    if (n >= min_count) kept.emplace_back(c, n);
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  std::vector<std::string> tokens(std::begin(kSpecialTokens), std::end(kSpecialTokens));
  for (const auto& entry : kept) tokens.push_back(utf8_encode(std::u32string(1, entry.first)));
  return from_tokens(std::move(tokens));
}

Vocabulary Vocabulary::from_tokens(std::vector<std::string> tokens) {
  if (tokens.size() < static_cast<size_t>(kNumSpecial)) {
    throw Error("vocabulary has " + std::to_string(tokens.size()) + " tokens, expected at least the 4 special ones");
  }
  Vocabulary vocab;
  vocab.characters_.assign(tokens.size(), 0);
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (id < static_cast<size_t>(kNumSpecial)) {
      if (tokens[id] != kSpecialTokens[id]) {
        throw Error("vocabulary token " + std::to_string(id) + " is '" + tokens[id] + "', expected '" +
                    kSpecialTokens[id] + "'");
      }
      continue;
    }
    const std::u32string chars = utf8_decode(tokens[id]);
    if (chars.size() != 1 || !vocab.index_.emplace(chars[0], static_cast<int32_t>(id)).second) {
      throw Error("vocabulary token " + std::to_string(id) + " ('" + tokens[id] +
                  "') is not one distinct character");
    }
    vocab.characters_[id] = chars[0];
  }
  vocab.tokens_ = std::move(tokens);
  return vocab;
}

int32_t Vocabulary::id_of(char32_t c) const {
  const auto it = index_.find(c);
  return it == index_.end() ? kUnk : it->second;
}

char32_t Vocabulary::character(int32_t id) const { return characters_.at(static_cast<size_t>(id)); }

std::string Vocabulary::decode(const int32_t* ids, size_t n) const {
  std::string out;
  out.reserve(n * 3);
  for (size_t i = 0; i < n; ++i) out += token(ids[i]);
  return out;
}

uint64_t Vocabulary::checksum() const {
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  for (const auto& token : tokens_) XXH64_update(state, token.c_str(), token.size() + 1);
  const uint64_t digest = XXH64_digest(state);
  XXH64_freeState(state);
  return digest;
}

}  // namespace poet
