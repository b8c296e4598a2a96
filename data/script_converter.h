// Traditional/simplified conversion through OpenCC (t2s and s2t, phrase-aware). The corpus is
// in traditional characters; prompts and output may be in either script.
#pragma once

#include <memory>
#include <string>

namespace opencc {
class SimpleConverter;
}

namespace poet {

enum class Script { kTraditional, kSimplified };

// Parses "traditional" or "simplified"; throws poet::Error naming `field` otherwise.
Script parse_script(const std::string& text, const std::string& field);
const char* script_name(Script script);
// The script that is not `script`.
constexpr Script other_script(Script script) {
  return script == Script::kSimplified ? Script::kTraditional : Script::kSimplified;
}

class ScriptConverter {
 public:
  // Identity when from == to.
  ScriptConverter(Script from, Script to);
  ~ScriptConverter();
  ScriptConverter(ScriptConverter&&) noexcept;

  std::string convert(const std::string& utf8) const;
  bool is_identity() const { return converter_ == nullptr; }

 private:
  std::unique_ptr<opencc::SimpleConverter> converter_;
};

}  // namespace poet
