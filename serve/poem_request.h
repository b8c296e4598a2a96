// The JSON body of `POST /api/poems` read into a PoemRequest, every field checked against its
// type and its limit before any poem is written. The fields are sample's flags, named as in
// sample --json's output (top_k for --top-k, copy_check for --no-copy-check): nothing in a
// request names a file.
#pragma once

#include <cstddef>
#include <string>

#include "common/error.h"
#include "poems/poem_maker.h"

namespace poet {

// What one request may ask for. A 律诗 has 8 lines: the acrostic and keywords can use no more.
struct RequestLimits {
  static constexpr size_t kBodyBytes = 16 * 1024;
  static constexpr size_t kPromptChars = 64;
  static constexpr size_t kAcrosticChars = 8;
  static constexpr size_t kKeywords = 8;
  static constexpr int64_t kNum = 8;
  static constexpr int64_t kCandidates = 32;
  static constexpr double kTemperature = 5.0;
  static constexpr int64_t kTopK = 100000;
  // Seeds (seed + i for poem i) stay exact in JavaScript, so the page can write a poem again.
  static constexpr uint64_t kSeed = (uint64_t{1} << 53) - 1;
};

// A request that cannot be met, with the field at fault ("" for the body as a whole).
class BadRequest : public Error {
 public:
  BadRequest(std::string field, const std::string& message) : Error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Throws BadRequest for a body that is not a JSON object, an unknown field, a value of the wrong
// type or outside RequestLimits. (The body's size is httplib's to refuse, at kBodyBytes.)
PoemRequest parse_poem_request(const std::string& body);

// The sampler's own error for a request (a character the vocabulary lacks, keywords that cannot
// fit...) as a BadRequest, in the request's field names instead of the command line's flags.
BadRequest bad_request_from(const Error& error);

}  // namespace poet
