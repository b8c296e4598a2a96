// ScriptConverter over opencc::SimpleConverter.
#include "data/script_converter.h"

#include <link.h>
#include <opencc/SimpleConverter.hpp>

#include <filesystem>

#include "common/error.h"

namespace poet {

Script parse_script(const std::string& text, const std::string& field) {
  if (text == "traditional") return Script::kTraditional;
  if (text == "simplified") return Script::kSimplified;
  throw Error(field + ": '" + text + "' is not a script, expected 'traditional' or 'simplified'");
}

const char* script_name(Script script) { return script == Script::kTraditional ? "traditional" : "simplified"; }

namespace {

// The folder of the OpenCC library this process loaded, found among the loaded objects (the
// address of an OpenCC function would be the executable's own in a build without PIE).
std::filesystem::path opencc_library_dir() {
  std::filesystem::path found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        const std::filesystem::path path = info->dlpi_name != nullptr ? info->dlpi_name : "";
        if (path.filename().string().rfind("libopencc.so", 0) != 0) return 0;
        *static_cast<std::filesystem::path*>(out) = path.parent_path();
        return 1;
      },
      &found);
  return found;
}

// OpenCC looks for its configs only in the folder it was built for (/usr/share/opencc). A copy
// unpacked elsewhere (scripts/gpu-check.sh relocates Debian's) keeps its data beside its library:
// LIB/../share/opencc, or LIB/../../share/opencc from a multiarch LIB. OpenCC then finds the
// dictionaries in the config's own folder.
std::string find_config(const std::string& name) {
  const std::filesystem::path lib_dir = opencc_library_dir();
  if (!lib_dir.empty()) {
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
