// What `poet_dist prepare` did, stored in the dataset as JSON and printed by prepare and
// inspect alike.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/text_cleaner.h"
#include "data/tone_table.h"

namespace poet {

struct DroppedPoems {
  long wrong_fields = 0;      // a field of the wrong type: skipped and counted, never fatal
  long empty = 0;             // no text left after cleaning
  long lost_characters = 0;   // □ ■ ● in the verse
  long duplicates = 0;        // same cleaned text as an earlier poem
  long not_regular = 0;       // --forms regular only
  long too_many_unknown = 0;  // more than --max-unknown characters mapped to <unk>
};

struct MissingCharacter {
  std::string character;
  long long count = 0;  // in the training split
};

struct ToneDisagreement {
  std::string character;
  std::string table_tone;  // 平 or 仄
  long long level = 0;     // what the corpus's tone patterns observed
  long long oblique = 0;
};

// The 平水韵 beside the corpus (pingshui_check.h).
struct RhymeTableReport {
  std::string path;  // empty: prepared without the 平水韵
  long groups = 0;
  long entries = 0;
  long names_added = 0;  // group-name characters missing upstream and put back
  long vocab_covered = 0;
  long long train_covered = 0;            // training tokens of Chinese characters the table holds
  long long train_characters = 0;         // training tokens of the vocabulary's Chinese characters (not <unk>)
  std::vector<MissingCharacter> missing;  // vocabulary characters the table lacks, most frequent first
  long tones_compared = 0;                // one tone class in the table and a clear majority in the corpus
  long tones_agreeing = 0;
  std::vector<ToneDisagreement> tones_disagreeing;  // most observed first
};

struct PrepareReport {
  std::string input;
  std::string layout;
  long poem_files = 0;
  long strain_files = 0;
  double input_megabytes = 0;
  long poems_read = 0;
  DroppedPoems dropped;
  CleanStats cleaning;
  long poems_kept = 0;
  long train_poems = 0;
  long val_poems = 0;
  long shards = 0;
  long long train_characters = 0;
  long long val_characters = 0;
  long vocab_size = 0;
  long rare_characters = 0;  // distinct characters below --min-count, all mapped to <unk>
  long long unknown_in_train = 0;
  long long unknown_in_val = 0;
  std::map<std::string, long> forms;  // kept poems by form_key()
  ToneJoinStats tones;
  long vocab_with_tone = 0;
  RhymeTableReport rhyme_table;
  double val_unigram_perplexity = 0;
  double seconds = 0;
};

void to_json(nlohmann::json& j, const PrepareReport& r);
void from_json(const nlohmann::json& j, PrepareReport& r);

void print_report(std::ostream& out, const PrepareReport& report);

}  // namespace poet
