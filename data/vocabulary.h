// The character vocabulary: four special tokens, then every character seen at least
// --min-count times in the training split, most frequent first. Rarer characters share the
// unknown token. Tokens are stored in the dataset as UTF-8 strings.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace poet {

class Vocabulary {
 public:
  static constexpr int32_t kPad = 0;
  static constexpr int32_t kBos = 1;  // start of a poem
  static constexpr int32_t kEos = 2;  // end of a poem
  static constexpr int32_t kUnk = 3;  // rare or unencodable character
  static constexpr int32_t kNumSpecial = 4;

  Vocabulary() = default;
  // Characters with count >= min_count, by descending count, ties broken by code point.
  static Vocabulary from_counts(const std::unordered_map<char32_t, int64_t>& counts, int64_t min_count);
  // As stored in a dataset; throws poet::Error if the special tokens or a character are wrong.
  static Vocabulary from_tokens(std::vector<std::string> tokens);

  int32_t id_of(char32_t c) const;  // kUnk when absent
  bool contains(char32_t c) const { return index_.count(c) != 0; }
  const std::string& token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  char32_t character(int32_t id) const;  // 0 for special tokens
  const std::vector<std::string>& tokens() const { return tokens_; }
  size_t size() const { return tokens_.size(); }
  // Decodes ids to text; special tokens appear as <pad>, <bos>, <eos>, <unk>.
  std::string decode(const int32_t* ids, size_t n) const;
  // xxh64 over the token strings: checkpoints record it to refuse a different vocabulary.
  uint64_t checksum() const;

 private:
  std::vector<std::string> tokens_;
  std::vector<char32_t> characters_;
  std::unordered_map<char32_t, int32_t> index_;
};

}  // namespace poet
