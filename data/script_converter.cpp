// ScriptConverter over opencc::SimpleConverter.
#include "data/script_converter.h"

#include <opencc/SimpleConverter.hpp>

#include "common/error.h"

namespace poet {

Script parse_script(const std::string& text, const std::string& field) {
  if (text == "traditional") return Script::kTraditional;
  if (text == "simplified") return Script::kSimplified;
  throw Error(field + ": '" + text + "' is not a script, expected 'traditional' or 'simplified'");
}

const char* script_name(Script script) {
  return script == Script::kTraditional ? "traditional" : "simplified";
}

ScriptConverter::ScriptConverter(Script from, Script to) {
  if (from == to) return;
  const std::string config = from == Script::kTraditional ? "t2s.json" : "s2t.json";
  try {
    converter_ = std::make_unique<opencc::SimpleConverter>(config);
  } catch (const std::exception& e) {
    throw Error("cannot load OpenCC configuration " + config + " (is the 'opencc' package installed?): " + e.what());
  }
}

ScriptConverter::~ScriptConverter() = default;
ScriptConverter::ScriptConverter(ScriptConverter&&) noexcept = default;

std::string ScriptConverter::convert(const std::string& utf8) const {
  return converter_ ? converter_->Convert(utf8) : utf8;
}

}  // namespace poet
