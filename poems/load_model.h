// load_model(): a trained model read back from its checkpoint for the commands that use it
// (sample, evaluate, report). The checkpoint carries everything needed: the config the model
// is built from, the vocabulary and the script of its text. The model stays on the CPU, where
// a poem at a time is decoded fast enough, and computes in the precision its run.precision
// chooses on this machine's CPU (choose_precision(), as training chose on its device).
#pragma once

#include <optional>
#include <string>

#include "config/train_config.h"
#include "data/script_converter.h"
#include "data/verse_rules.h"
#include "data/vocabulary.h"
#include "model/checkpoint.h"
#include "model/poet_model.h"

namespace poet {

struct LoadedModel {
  std::string checkpoint;  // the file it came from
  CheckpointMeta meta;
  TrainConfig config;
  Vocabulary vocab;
  Script script = Script::kSimplified;  // of the text it writes
  PoetModel model{nullptr};             // weights restored
};

// Throws poet::Error naming the file and the fault.
LoadedModel load_model(const std::string& checkpoint);

// The verse rules of the dataset `data`, or when empty of the one `model` was trained on, with
// rhymes from `source` (load_verse_rules()); throws poet::Error naming both when neither can be
// read or the vocabulary differs.
VerseRules load_rules_for(const LoadedModel& model, const std::string& data,
                          std::optional<RhymeSource> source = std::nullopt);

}  // namespace poet
