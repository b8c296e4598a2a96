// JSON reading for the corpus with simdjson; nlohmann::json is used only to locate the byte
// offset of a syntax error, which simdjson does not report.
#include "data/poem_reader.h"

#include <xxhash.h>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "common/error.h"

namespace poet {

namespace {

std::string type_name(simdjson::dom::element_type t) {
  switch (t) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
    default: return "a number";
  }
}

[[noreturn]] void throw_syntax_error(const std::string& path, const simdjson::padded_string& text,
                                     simdjson::error_code code) {
  try {
    [[maybe_unused]] const auto parsed = nlohmann::json::parse(text.data(), text.data() + text.size());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts the characters read, so the faulty one sits at offset e.byte - 1.
    std::string detail = e.what();
    const size_t tag_end = detail.find("] ");
    if (tag_end != std::string::npos) detail.erase(0, tag_end + 2);
    throw Error(path + ": not valid JSON at byte offset " + std::to_string(e.byte > 0 ? e.byte - 1 : 0) + " (" +
                detail + ")");
  }
  throw Error(path + ": not valid JSON (" + std::string(simdjson::error_message(code)) + ")");
}

// Reads `field` of `poem` as an array of strings into `out`; returns a problem text or "".
std::string read_lines(const simdjson::dom::object& poem, const char* field, std::vector<std::string>& out) {
  simdjson::dom::element value;
  if (poem[field].get(value)) return std::string("field '") + field + "' is missing";
  simdjson::dom::array lines;
  if (value.get_array().get(lines)) {
    return std::string("field '") + field + "' is " + type_name(value.type()) + ", expected an array of strings";
  }
  for (simdjson::dom::element line : lines) {
    std::string_view s;
    if (line.get_string().get(s)) {
      return std::string("field '") + field + "' holds " + type_name(line.type()) + ", expected strings";
    }
    out.emplace_back(s);
  }
  return "";
}

std::string read_id(const simdjson::dom::object& poem, std::string& out) {
  simdjson::dom::element value;
  if (poem["id"].get(value)) return "field 'id' is missing";
  std::string_view s;
  if (value.get_string().get(s)) return "field 'id' is " + type_name(value.type()) + ", expected a string";
  if (s.empty()) return "field 'id' is empty";
  out = std::string(s);
  return "";
}

PoemFile read_file(const std::filesystem::path& path, const char* lines_field) {
  const std::string name = path.string();
  simdjson::padded_string text;
  if (auto err = simdjson::padded_string::load(name).get(text)) {
    throw Error(name + ": cannot read (" + std::string(simdjson::error_message(err)) + ")");
  }
  PoemFile file;
  file.source = SourceFile{name, text.size(), XXH64(text.data(), text.size(), 0)};

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(text).get(root)) throw_syntax_error(name, text, err);
  simdjson::dom::array entries;
  if (root.get_array().get(entries)) {
    throw Error(name + ": top level is " + type_name(root.type()) + ", expected an array of poems");
  }
  size_t index = 0;
  for (simdjson::dom::element entry : entries) {
    RawPoem poem;
    simdjson::dom::object object;
    std::string problem;
    if (entry.get_object().get(object)) {
      problem = "entry is " + type_name(entry.type()) + ", expected an object";
    } else {
      problem = read_id(object, poem.id);
      if (problem.empty()) problem = read_lines(object, lines_field, poem.paragraphs);
    }
    if (problem.empty()) {
      file.poems.push_back(std::move(poem));
    } else {
      file.skipped.push_back({index, problem});
    }
    ++index;
  }
  return file;
}

}  // namespace

PoemFile read_poem_file(const std::filesystem::path& path) { return read_file(path, "paragraphs"); }

PoemFile read_strain_file(const std::filesystem::path& path) { return read_file(path, "strains"); }

}  // namespace poet
