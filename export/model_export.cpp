// export_model(): checkpoint -> one dict of IValues -> pickle_save -> a file renamed into place.
#include "export/model_export.h"

#include <ATen/core/Dict.h>
#include <ATen/core/List.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>

#include "common/error.h"
#include "common/temp_file.h"
#include "poems/load_model.h"

namespace poet {

namespace {

// A dict of str -> any value, as Python's dicts are.
c10::impl::GenericDict any_dict() { return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get()); }

c10::impl::GenericDict model_config(const ModelConfig& c) {
  c10::impl::GenericDict d = any_dict();
  d.insert("embed", c.embed);
  d.insert("hidden", c.hidden);
  d.insert("layers", c.layers);
  d.insert("dropout", c.dropout);
  d.insert("tie_weights", c.tie_weights);
  return d;
}

}  // namespace

void export_model(const ExportOptions& o, std::ostream& log) {
  const LoadedModel m = load_model(o.checkpoint);
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& p : m.model->named_parameters()) {
    state.insert(p.key(), p.value().detach().to(torch::kFloat32).contiguous().clone());
  }
  c10::List<std::string> vocab;
  for (const std::string& token : m.meta.vocab_tokens) vocab.push_back(token);

  c10::impl::GenericDict out = any_dict();
  out.insert("format", std::string(kExportFormat));
  out.insert("format_version", kExportVersion);
  out.insert("config", model_config(m.config.model));
  out.insert("config_toml", m.config.toml);
  out.insert("vocab", vocab);
  out.insert("script", m.meta.script);
  out.insert("step", m.meta.step);
  out.insert("val_loss", m.meta.val_loss);
  out.insert("state_dict", state);
  const std::vector<char> bytes = torch::jit::pickle_save(out);

  TempFile file(o.output);
  {
    std::ofstream stream(file.path(), std::ios::binary);
    stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    stream.close();
    if (!stream) throw Error(o.output + ": cannot write the export (" + file.path() + ")");
  }
  file.commit();
  log << "poet_dist export: " << o.output << " (" << bytes.size() / 1e6 << " MB): " << state.size()
      << " tensors, " << vocab.size() << " tokens, step " << m.meta.step << "; in Python: "
      << "python/poet_model.py load('" << o.output << "')\n";
}

}  // namespace poet
