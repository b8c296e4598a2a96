// PoemMaker: a trained model ready to write poems for one request after another, as `sample`
// writes them once and each worker of `serve` over and over. A request (PoemRequest) holds what
// sample's flags and serve's JSON fields share; the answer is the JSON `sample --json` prints,
// each poem with its lines' tones and the lines that rhyme, so that text output, the API and the
// web page read one form.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "data/script_converter.h"
#include "data/verse_rules.h"
#include "poems/load_model.h"
#include "poems/sampler.h"

namespace poet {

struct PoemRequest {
  std::string prompt;
  std::string acrostic;
  std::string keywords;  // "春,江,花,月": one or two characters a line
  std::string form;      // empty: free verse, or a 绝句/律诗 sized to fit an acrostic or keywords
  double temperature = 0.8;
  int64_t top_k = 0;
  double top_p = 0.95;
  uint64_t seed = 1;
  int64_t num = 1;
  int64_t candidates = kDefaultCandidates;
  std::string search = search_name(kDefaultSearch);  // candidates or beam
  std::optional<Script> script;                      // of the output; default: the model's
  std::string tones = "soft";                        // strict, soft or off (regulated verse)
  bool avoid_copies = true;                          // resample lines found verbatim in the training set
};

class PoemMaker {
 public:
  // `rules` may be null for a model without its dataset: then only tones off without the copy
  // check can be written.
  PoemMaker(LoadedModel model, std::shared_ptr<const VerseRules> rules);

  // Poem `index` of `request` (seed + index), as one entry of sample --json's "poems". Throws
  // poet::Error naming what cannot be met, TimedOut once `deadline` has passed.
  nlohmann::json poem(const PoemRequest& request, int64_t index,
                      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
  // {"poems": [...]}: all `request.num` of them (none for a num below 1).
  nlohmann::json poems(const PoemRequest& request,
                       std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  const LoadedModel& model() const { return model_; }
  const VerseRules* rules() const { return rules_.get(); }

 private:
  // Loaded on first use: a request without text to convert never pays for OpenCC.
  const ScriptConverter& converter(Script from, Script to);

  LoadedModel model_;
  std::shared_ptr<const VerseRules> rules_;
  std::optional<ScriptConverter> into_model_;  // the other script into the model's
  std::optional<ScriptConverter> out_of_model_;
};

// The verse rules of dataset `data` (default: the checkpoint's) with rhymes from `rhyme_table`
// (pingshui|learned; empty: the 平水韵 where the dataset holds it), as sample and serve use them.
std::shared_ptr<const VerseRules> load_poem_rules(const LoadedModel& model, const std::string& data,
                                                  const std::string& rhyme_table);

}  // namespace poet
