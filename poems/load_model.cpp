// load_model(): checkpoint -> config -> vocabulary -> model -> weights; load_rules_for(): the
// dataset beside it.
#include "poems/load_model.h"

#include <memory>

#include "common/error.h"
#include "data/dataset_file.h"
#include "model/precision_choice.h"

namespace poet {

LoadedModel load_model(const std::string& checkpoint) {
  LoadedCheckpoint ckpt(checkpoint);
  LoadedModel m;
  m.checkpoint = checkpoint;
  m.meta = ckpt.meta();
  m.config = parse_train_config(m.meta.config_toml, checkpoint);
  m.vocab = Vocabulary::from_tokens(m.meta.vocab_tokens);
  m.model = PoetModel(static_cast<int64_t>(m.vocab.size()), m.config.model);
  ckpt.restore_model(m.model);
  m.model->set_precision(choose_precision(m.config.run.precision, m.model->device()).precision);
  m.script = parse_script(m.meta.script, checkpoint + ": script");
  return m;
}

VerseRules load_rules_for(const LoadedModel& model, const std::string& data, std::optional<RhymeSource> source) {
  const std::string& checkpoint = model.checkpoint;
  const std::string path = data.empty() ? model.config.data.path : data;
  if (path.empty()) throw Error(checkpoint + " names no dataset: give --data FILE (for tones and the copy check)");
  std::unique_ptr<DatasetFile> file;
  try {
    file = std::make_unique<DatasetFile>(path);
  } catch (const Error& e) {
    if (!data.empty()) throw;
    // The user named no file: say which one was meant, and how to do without it.
    throw Error(std::string(e.what()) + " (the dataset " + checkpoint +
                " was trained on; give --data FILE, or --tones off --no-copy-check)");
  }
  if (file->vocab().checksum() != model.meta.vocab_checksum) {
    throw Error(path + ": its vocabulary is not the one " + checkpoint + " was trained with");
  }
  return load_verse_rules(*file, source);
}

}  // namespace poet
