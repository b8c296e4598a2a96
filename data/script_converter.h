// Traditional/simplified conversion through OpenCC. The corpus is in traditional characters;
// converting to simplified uses OpenCC's t2s configuration (phrase-aware).
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

class ScriptConverter {
 public:
  // Converts corpus text (traditional) into `target`; identity when target is traditional.
  explicit ScriptConverter(Script target);
  ~ScriptConverter();
  ScriptConverter(ScriptConverter&&) noexcept;

  std::string convert(const std::string& utf8) const;
  bool is_identity() const { return converter_ == nullptr; }

 private:
  std::unique_ptr<opencc::SimpleConverter> converter_;
};

}  // namespace poet
