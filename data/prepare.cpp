// The prepare pipeline: read and clean files in parallel, then deduplicate, split, build the
// vocabulary, shard and write, in the corpus order so the result does not depend on threads.
#include "data/prepare.h"

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <unordered_set>

#include "common/cpu_count.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/parallel_for.h"
#include "common/progress_display.h"
#include "common/seeded_shuffle.h"
#include "common/temp_file.h"
#include "common/utf8.h"
#include "data/corpus_layout.h"
#include "data/dataset_file.h"
#include "data/pingshui_check.h"
#include "data/poem_form.h"
#include "data/poem_reader.h"

namespace poet {

namespace {

constexpr size_t kMaxWarnings = 5;

struct CleanPoem {
  std::string id;
  std::u32string text;
  PoemForm form = PoemForm::kFree;
};

struct FileResult {
  SourceFile source;
  std::vector<CleanPoem> poems;
  std::vector<SkippedEntry> skipped;
  long read = 0;
  long empty = 0;
  long lost = 0;
  CleanStats cleaning;
  ToneTable tones;
  ToneJoinStats tone_stats;
};

using PatternIndex = std::unordered_map<std::string, std::vector<std::string>>;

FileResult process_poem_file(const std::filesystem::path& path, const PatternIndex& patterns,
                             const ScriptConverter& converter) {
  PoemFile file = read_poem_file(path);
  FileResult result;
  result.source = file.source;
  result.skipped = std::move(file.skipped);
  result.read = static_cast<long>(file.poems.size() + result.skipped.size());
  std::string joined;
  for (RawPoem& raw : file.poems) {
    joined.clear();
    for (const auto& line : raw.paragraphs) joined += line;
    CleanedPoem cleaned = clean_poem(utf8_decode(joined), result.cleaning);
    if (cleaned.outcome == CleanOutcome::kEmpty) {
      ++result.empty;
      continue;
    }
    if (cleaned.outcome == CleanOutcome::kLostCharacters) {
      ++result.lost;
      continue;
    }
    if (!converter.is_identity()) cleaned.text = utf8_decode(converter.convert(utf8_encode(cleaned.text)));
    if (!patterns.empty()) {
      const auto it = patterns.find(raw.id);
      if (it == patterns.end()) {
        ++result.tone_stats.poems_without_pattern;
      } else {
        ++result.tone_stats.poems_with_pattern;
        add_poem_tones(raw.paragraphs, it->second, result.tones, result.tone_stats);
      }
    }
    const PoemForm form = classify_form(cleaned.text);
    result.poems.push_back(CleanPoem{std::move(raw.id), std::move(cleaned.text), form});
  }
  return result;
}

// Tones were observed on traditional characters; carry them to the output script. The keys
// are converted in one OpenCC call, one per line, so no phrase spans two characters.
ToneTable convert_tone_table(const ToneTable& table, const ScriptConverter& converter) {
  if (converter.is_identity()) return table;
  std::vector<char32_t> keys;
  std::string text;
  for (const auto& [c, counts] : table) {
    keys.push_back(c);
    utf8_append(text, c);
    text.push_back('\n');
  }
  const std::u32string converted = utf8_decode(converter.convert(text));
  ToneTable result;
  size_t line_start = 0;
  size_t k = 0;
  for (size_t i = 0; i < converted.size() && k < keys.size(); ++i) {
    if (converted[i] != U'\n') continue;
    const char32_t target = (i - line_start == 1) ? converted[line_start] : keys[k];
    result[target] += table.at(keys[k]);
    line_start = i + 1;
    ++k;
  }
  return result;
}

// Shard s holds poems [shard_offsets[s], shard_offsets[s+1]), cut where the running token
// count passes s/S of the total, so shards carry nearly equal work.
std::vector<int64_t> shard_boundaries(const std::vector<int64_t>& poem_offsets, int shards) {
  std::vector<int64_t> boundaries{0};
  const int64_t total = poem_offsets.back();
  for (int s = 1; s < shards; ++s) {
    const int64_t target = total * s / shards;
    const auto it = std::lower_bound(poem_offsets.begin(), poem_offsets.end(), target);
    boundaries.push_back(std::max(boundaries.back(), static_cast<int64_t>(it - poem_offsets.begin())));
  }
  boundaries.push_back(static_cast<int64_t>(poem_offsets.size() - 1));
  return boundaries;
}

struct EncodedPoem {
  const CleanPoem* poem;
  std::vector<int32_t> tokens;
};

SplitData assemble_split(const std::vector<EncodedPoem>& poems, const std::vector<size_t>& order, int shards) {
  SplitData split;
  for (size_t index : order) {
    const EncodedPoem& p = poems[index];
    split.tokens.insert(split.tokens.end(), p.tokens.begin(), p.tokens.end());
    split.poem_offsets.push_back(static_cast<int64_t>(split.tokens.size()));
    split.forms.push_back(static_cast<uint8_t>(p.poem->form));
    split.poem_ids.push_back(p.poem->id);
  }
  split.shard_offsets = shard_boundaries(split.poem_offsets, shards);
  return split;
}

std::string hex64(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

void warn_skipped(std::ostream& log, const std::vector<FileResult>& results) {
  size_t shown = 0;
  size_t total = 0;
  for (const auto& r : results) {
    for (const auto& s : r.skipped) {
      if (shown++ < kMaxWarnings) {
        log << "warning: " << r.source.path << ": entry " << s.index << " skipped: " << s.problem << "\n";
      }
      ++total;
    }
  }
  if (total > kMaxWarnings) log << "warning: ... and " << total - kMaxWarnings << " more entries skipped\n";
}

}  // namespace

nlohmann::json to_json(const PrepareOptions& o) {
  return {{"input", o.input},
          {"output", o.output},
          {"forms", o.regular_only ? "regular" : "all"},
          {"script", script_name(o.script)},
          {"val_fraction", o.val_fraction},
          {"shards", o.shards},
          {"min_count", o.min_count},
          {"max_unknown", o.max_unknown},
          {"seed", o.seed},
          {"pingshui", o.pingshui}};
}

void validate(const PrepareOptions& o) {
  if (!(o.val_fraction >= 0.0 && o.val_fraction < 1.0)) {
    throw Error("--val-fraction is " + std::to_string(o.val_fraction) + ", expected a number in [0, 1)");
  }
  if (o.shards < 1) throw Error("--shards is " + std::to_string(o.shards) + ", expected at least 1");
  if (o.min_count < 1) throw Error("--min-count is " + std::to_string(o.min_count) + ", expected at least 1");
  if (o.max_unknown < 0) throw Error("--max-unknown is " + std::to_string(o.max_unknown) + ", expected >= 0");
  if (o.output.empty()) throw Error("--output is empty, expected the path of the HDF5 file to write");
}

bool in_validation_split(const std::string& poem_id, double val_fraction) {
  const uint64_t h = XXH64(poem_id.data(), poem_id.size(), 0);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < val_fraction;
}

PrepareReport prepare_dataset(const PrepareOptions& options, std::ostream& log) {
  const auto start = std::chrono::steady_clock::now();
  validate(options);
  const CorpusFiles corpus = find_corpus(options.input);
  // Read first: a bad table fails before minutes of work.
  const std::optional<PingshuiTable> pingshui =
      options.pingshui.empty() ? std::nullopt : std::optional<PingshuiTable>(load_pingshui(options.pingshui));
  TempFile output(options.output);
  const int threads = options.threads > 0 ? options.threads : available_cores();
  const ScriptConverter converter(Script::kTraditional, options.script);

  PrepareReport report;
  report.input = options.input;
  report.layout = corpus.layout;
  report.poem_files = static_cast<long>(corpus.poem_files.size());
  report.strain_files = static_cast<long>(corpus.strain_files.size());

  // ---------------------------------------------------------------------------
  // Read tone patterns, then read and clean the poems, one file per task.
  // A bar where a person watches; a log gets the report instead of a line per file.
  ProgressDisplay progress(log,
                           progress_style("auto") == ProgressStyle::kBar ? ProgressStyle::kBar : ProgressStyle::kOff);
  const size_t files = corpus.strain_files.size() + corpus.poem_files.size();
  std::atomic<size_t> files_read{0};
  const auto file_done = [&] {
    const size_t done = ++files_read;
    progress.update("prepare: reading files " + std::to_string(done) + "/" + std::to_string(files),
                    static_cast<double>(done) / static_cast<double>(files));
  };
  std::vector<PoemFile> strain_files(corpus.strain_files.size());
  parallel_for(strain_files.size(), threads, [&](size_t i) {
    throw_if_interrupted();
    strain_files[i] = read_strain_file(corpus.strain_files[i]);
    file_done();
  });
  PatternIndex patterns;
  for (auto& f : strain_files) {
    for (auto& p : f.poems) patterns.emplace(std::move(p.id), std::move(p.paragraphs));
  }
  std::vector<FileResult> results(corpus.poem_files.size());
  parallel_for(results.size(), threads, [&](size_t i) {
    throw_if_interrupted();
    results[i] = process_poem_file(corpus.poem_files[i], patterns, converter);
    file_done();
  });
  progress.finish();
  warn_skipped(log, results);

  // ---------------------------------------------------------------------------
  // Deduplicate and filter in corpus order, then split on the hash of the id.
  uint64_t input_bytes = 0;
  nlohmann::json sources = nlohmann::json::array();
  const auto add_source = [&](const SourceFile& s) {
    input_bytes += s.bytes;
    sources.push_back({{"path", std::filesystem::relative(s.path, options.input).string()},
                       {"bytes", s.bytes},
                       {"xxh64", hex64(s.xxh64)}});
  };
  for (const auto& f : strain_files) add_source(f.source);
  ToneTable traditional_tones;
  std::unordered_set<std::u32string> seen;
  std::vector<const CleanPoem*> train_candidates;
  std::vector<const CleanPoem*> val_candidates;
  for (auto& r : results) {
    add_source(r.source);
    report.poems_read += r.read;
    report.dropped.wrong_fields += static_cast<long>(r.skipped.size());
    report.dropped.empty += r.empty;
    report.dropped.lost_characters += r.lost;
    report.cleaning += r.cleaning;
    report.tones += r.tone_stats;
    for (const auto& [c, counts] : r.tones) traditional_tones[c] += counts;
    for (const CleanPoem& poem : r.poems) {
      if (!seen.insert(poem.text).second) {
        ++report.dropped.duplicates;
      } else if (options.regular_only && !is_regular(poem.form)) {
        ++report.dropped.not_regular;
      } else {
        (in_validation_split(poem.id, options.val_fraction) ? val_candidates : train_candidates).push_back(&poem);
      }
    }
  }
  throw_if_interrupted();

  // ---------------------------------------------------------------------------
  // Vocabulary from the training split; poems with too many unknown characters are dropped.
  std::unordered_map<char32_t, int64_t> char_counts;
  for (const CleanPoem* p : train_candidates) {
    for (char32_t c : p->text) ++char_counts[c];
  }
  char_counts.erase(kUnencodable);
  DatasetContents contents;
  contents.vocab = Vocabulary::from_counts(char_counts, options.min_count);
  report.rare_characters = static_cast<long>(char_counts.size() - (contents.vocab.size() - Vocabulary::kNumSpecial));

  const auto encode = [&](const std::vector<const CleanPoem*>& candidates, long long& unknown_total) {
    std::vector<EncodedPoem> encoded;
    for (const CleanPoem* p : candidates) {
      EncodedPoem e{p, {}};
      e.tokens.reserve(p->text.size());
      int unknown = 0;
      for (char32_t c : p->text) {
        e.tokens.push_back(contents.vocab.id_of(c));
        unknown += e.tokens.back() == Vocabulary::kUnk;
      }
      if (unknown > options.max_unknown) {
        ++report.dropped.too_many_unknown;
        continue;
      }
      unknown_total += unknown;
      encoded.push_back(std::move(e));
    }
    return encoded;
  };
  const std::vector<EncodedPoem> train = encode(train_candidates, report.unknown_in_train);
  const std::vector<EncodedPoem> val = encode(val_candidates, report.unknown_in_val);

  std::vector<size_t> train_order(train.size());
  for (size_t i = 0; i < train_order.size(); ++i) train_order[i] = i;
  seeded_shuffle(train_order, options.seed);
  std::vector<size_t> val_order(val.size());
  for (size_t i = 0; i < val_order.size(); ++i) val_order[i] = i;
  contents.train = assemble_split(train, train_order, options.shards);
  contents.val = assemble_split(val, val_order, options.shards);

  // ---------------------------------------------------------------------------
  // Counts, tones and the unigram floor: -mean log p over val characters and end tokens,
  // with p estimated from train counts (add-one smoothed).
  contents.counts.assign(contents.vocab.size(), 0);
  for (int32_t t : contents.train.tokens) ++contents.counts[static_cast<size_t>(t)];
  contents.counts[Vocabulary::kEos] = static_cast<int64_t>(train.size());
  const ToneTable tones = convert_tone_table(traditional_tones, converter);
  contents.tones.assign(contents.vocab.size(), ToneCounts{});
  for (size_t id = Vocabulary::kNumSpecial; id < contents.vocab.size(); ++id) {
    const auto it = tones.find(contents.vocab.character(static_cast<int32_t>(id)));
    if (it == tones.end()) continue;
    contents.tones[id] = it->second;
    report.vocab_with_tone += (it->second.level + it->second.oblique + it->second.either) > 0;
  }
  if (pingshui) {
    contents.rhyme_table = match_to_vocabulary(*pingshui, contents.vocab, options.script);
    report.rhyme_table =
        check_rhyme_table(*pingshui, contents.rhyme_table, contents.vocab, contents.counts, contents.tones);
  }
  double total = 0;
  for (int64_t n : contents.counts) total += static_cast<double>(n);
  const double denominator = total + static_cast<double>(contents.vocab.size());
  const auto log_p = [&](int32_t t) {
    return std::log((static_cast<double>(contents.counts[static_cast<size_t>(t)]) + 1.0) / denominator);
  };
  double log_likelihood = 0;
  for (int32_t t : contents.val.tokens) log_likelihood += log_p(t);
  log_likelihood += static_cast<double>(val.size()) * log_p(Vocabulary::kEos);
  const double predicted = static_cast<double>(contents.val.tokens.size() + val.size());
  report.val_unigram_perplexity = predicted > 0 ? std::exp(-log_likelihood / predicted) : 0.0;

  report.poems_kept = static_cast<long>(train.size() + val.size());
  report.train_poems = static_cast<long>(train.size());
  report.val_poems = static_cast<long>(val.size());
  report.shards = options.shards;
  report.train_characters = static_cast<long long>(contents.train.tokens.size());
  report.val_characters = static_cast<long long>(contents.val.tokens.size());
  report.vocab_size = static_cast<long>(contents.vocab.size());
  for (int f = 0; f < kNumForms; ++f) report.forms[form_key(static_cast<PoemForm>(f))] = 0;
  for (const auto* split : {&contents.train, &contents.val}) {
    for (uint8_t f : split->forms) ++report.forms[form_key(static_cast<PoemForm>(f))];
  }
  report.input_megabytes = static_cast<double>(input_bytes) / 1e6;

  // ---------------------------------------------------------------------------
  // Write under the temporary name, then rename into place.
  throw_if_interrupted();
  contents.options = to_json(options);
  contents.sources = std::move(sources);
  // The stored time covers everything but the write itself, which cannot time itself.
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  contents.report = report;
  write_dataset(output.path(), contents);
  throw_if_interrupted();
  output.commit();
  return report;
}

}  // namespace poet
