// parse_poem_request(): one table of the fields a request may hold, each with the flag it stands
// for and how its value is read and bounded.
#include "serve/poem_request.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <vector>

#include "common/utf8.h"

namespace poet {

namespace {

using nlohmann::json;

std::string shown(const json& value) {
  const std::string text = value.dump();
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

std::string text_field(const std::string& field, const json& v, size_t max_chars) {
  if (!v.is_string()) throw BadRequest(field, field + ": expected a string, got " + shown(v));
  const std::string text = v.get<std::string>();  // valid UTF-8: the parser refuses any other
  const size_t chars = utf8_decode(text).size();
  if (chars > max_chars) {
    throw BadRequest(field, field + ": " + std::to_string(chars) + " characters, expected at most " +
                                std::to_string(max_chars));
  }
  return text;
}

std::string choice_field(const std::string& field, const json& v, const std::vector<std::string>& choices) {
  std::string expected;
  for (const auto& c : choices) expected += (expected.empty() ? "" : ", ") + c;
  if (v.is_string()) {
    for (const auto& c : choices) {
      if (v.get<std::string>() == c) return c;
    }
  }
  throw BadRequest(field, field + ": expected one of " + expected + ", got " + shown(v));
}

int64_t integer_field(const std::string& field, const json& v, int64_t lo, int64_t hi) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) ||
      v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    throw BadRequest(field, field + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                                ", got " + shown(v));
  }
  return v.get<int64_t>();
}

double number_field(const std::string& field, const json& v, double lo, double hi, bool open_below,
                    const std::string& range) {
  if (!v.is_number() || !(open_below ? v.get<double>() > lo : v.get<double>() >= lo) || !(v.get<double>() <= hi)) {
    throw BadRequest(field, field + ": expected a number " + range + ", got " + shown(v));
  }
  return v.get<double>();
}

// Keywords as sample takes them ("春,江,花,月") or as a list of strings.
std::string keywords_field(const json& v) {
  const std::string field = "keywords";
  std::vector<std::string> words;
  if (v.is_string()) {
    words.push_back(text_field(field, v, RequestLimits::kKeywords * 3));
  } else if (v.is_array()) {
    if (v.size() > RequestLimits::kKeywords) {
      throw BadRequest(field, field + ": " + std::to_string(v.size()) + " keywords, expected at most " +
                                  std::to_string(RequestLimits::kKeywords) + " (one a line)");
    }
    for (const auto& w : v) {
      const std::string word = text_field(field, w, 2);
      if (word.empty() || word.find(',') != std::string::npos) {
        throw BadRequest(field, field + ": each keyword is one or two characters, got " + shown(w));
      }
      words.push_back(word);
    }
  } else {
    throw BadRequest(field, field + ": expected a list of strings or \"春,江,花,月\", got " + shown(v));
  }
  std::string joined;
  for (const auto& w : words) joined += (joined.empty() ? "" : ",") + w;
  return joined;
}

struct Field {
  const char* name;
  const char* flag;  // sample's, as the sampler's messages name it
  std::function<void(const json&, PoemRequest&)> read;
};

const std::vector<Field>& fields() {
  using L = RequestLimits;
  static const std::vector<Field> table = {
      {"prompt", "--prompt", [](const json& v, PoemRequest& r) { r.prompt = text_field("prompt", v, L::kPromptChars); }},
      {"acrostic", "--acrostic",
       [](const json& v, PoemRequest& r) { r.acrostic = text_field("acrostic", v, L::kAcrosticChars); }},
      {"keywords", "--keywords", [](const json& v, PoemRequest& r) { r.keywords = keywords_field(v); }},
      {"form", "--form",
       [](const json& v, PoemRequest& r) { r.form = choice_field("form", v, {"wujue", "qijue", "wulv", "qilv", "free"}); }},
      {"temperature", "--temperature",
       [](const json& v, PoemRequest& r) {
         r.temperature = number_field("temperature", v, 0, L::kTemperature, false, "from 0 (greedy) to 5");
       }},
      {"top_k", "--top-k", [](const json& v, PoemRequest& r) { r.top_k = integer_field("top_k", v, 0, L::kTopK); }},
      {"top_p", "--top-p",
       [](const json& v, PoemRequest& r) { r.top_p = number_field("top_p", v, 0, 1, true, "in (0, 1]"); }},
      {"seed", "--seed",
       [](const json& v, PoemRequest& r) {
         r.seed = static_cast<uint64_t>(integer_field("seed", v, 0, static_cast<int64_t>(L::kSeed)));
       }},
      {"num", "--num", [](const json& v, PoemRequest& r) { r.num = integer_field("num", v, 1, L::kNum); }},
      {"candidates", "--candidates",
       [](const json& v, PoemRequest& r) { r.candidates = integer_field("candidates", v, 1, L::kCandidates); }},
      {"search", "--search",
       [](const json& v, PoemRequest& r) { r.search = choice_field("search", v, {"candidates", "beam"}); }},
      {"script", "--script",
       [](const json& v, PoemRequest& r) {
         r.script = parse_script(choice_field("script", v, {"simplified", "traditional"}), "script");
       }},
      {"tones", "--tones",
       [](const json& v, PoemRequest& r) { r.tones = choice_field("tones", v, {"strict", "soft", "off"}); }},
      {"copy_check", "--no-copy-check",
       [](const json& v, PoemRequest& r) {
         if (!v.is_boolean()) throw BadRequest("copy_check", "copy_check: expected true or false, got " + shown(v));
         r.avoid_copies = v.get<bool>();
       }},
  };
  return table;
}

}  // namespace

PoemRequest parse_poem_request(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    throw BadRequest("", std::string("the body is not JSON: ") + e.what());
  }
  if (!j.is_object()) throw BadRequest("", "the body is " + shown(j) + ", expected a JSON object of sample's options");
  PoemRequest request;
  for (const auto& [key, value] : j.items()) {
    const Field* field = nullptr;
    for (const Field& f : fields()) {
      if (key == f.name) field = &f;
    }
    if (field == nullptr) {
      std::string known;
      for (const Field& f : fields()) known += (known.empty() ? "" : ", ") + std::string(f.name);
      throw BadRequest(key, "unknown field '" + key + "', expected one of " + known);
    }
    field->read(value, request);
  }
  // Poem i of num has seed + i: the last must stay exact too.
  if (request.seed + static_cast<uint64_t>(request.num - 1) > RequestLimits::kSeed) {
    throw BadRequest("seed", "seed: " + std::to_string(request.seed) + " with num " + std::to_string(request.num) +
                                 " gives seeds above " + std::to_string(RequestLimits::kSeed));
  }
  return request;
}

BadRequest bad_request_from(const Error& error) {
  std::string message = error.what();
  for (const Field& f : fields()) {
    for (size_t at = message.find(f.flag); at != std::string::npos; at = message.find(f.flag, at)) {
      message.replace(at, std::string(f.flag).size(), f.name);
    }
  }
  // The sampler's messages begin with what is at fault: "acrostic character '<' ...",
  // "keyword '春风' cannot fit ...", "prompt is longer ...".
  std::string field;
  for (const Field& f : fields()) {
    if (message.rfind(f.name, 0) == 0) field = f.name;
  }
  if (field.empty() && message.rfind("keyword", 0) == 0) field = "keywords";
  return BadRequest(field, message);
}

}  // namespace poet
