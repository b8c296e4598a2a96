// ScriptConverter over opencc::SimpleConverter.
#include "data/script_converter.h"

#include <dlfcn.h>
#include <opencc/SimpleConverter.hpp>
#include <opencc/opencc.h>

#include <filesystem>

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

namespace {

// OpenCC looks for its configs only in the folder it was built for (/usr/share/opencc). A copy
// unpacked elsewhere (scripts/gpu-check.sh relocates Debian's) keeps its data beside its library:
// LIB/../share/opencc, or LIB/../../share/opencc from a multiarch LIB. OpenCC then finds the
// dictionaries in the config's own folder.
std::string find_config(const std::string& name) {
  Dl_info library{};
  if (dladdr(reinterpret_cast<void*>(&opencc_open), &library) != 0 && library.dli_fname != nullptr) {
    const std::filesystem::path lib_dir = std::filesystem::path(library.dli_fname).parent_path();
    for (const auto& share : {lib_dir / ".." / "share", lib_dir / ".." / ".." / "share"}) {
      const std::filesystem::path config = share / "opencc" / name;
      if (std::filesystem::exists(config)) return std::filesystem::canonical(config).string();
    }
  }
  return name;
}

}  // namespace

ScriptConverter::ScriptConverter(Script from, Script to) {
  if (from == to) return;
  const std::string config = find_config(from == Script::kTraditional ? "t2s.json" : "s2t.json");
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
