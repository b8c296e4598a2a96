// `poet_dist export`: a checkpoint's model in a file Python's torch.load reads, written by
// torch::jit::pickle_save (LibTorch's pickle format, a zip of data.pkl and the tensors' storages)
// so that nothing but PyTorch is needed on the other side. python/poet_model.py rebuilds the
// model from it. The file is one dict (kExportFormat, version 1):
//   format, format_version      "poet_dist.export", 1
//   config                      {embed, hidden, layers, dropout, tie_weights}: the model section
//   config_toml                 the whole run config the checkpoint was trained with
//   vocab                       the tokens by id; ids 0-3 are <pad> <bos> <eos> <unk>
//   script, step, val_loss      the text's script, the training step, its validation loss (NaN
//                               when not measured)
//   state_dict                  name -> fp32 tensor, named as PyTorch's nn.Embedding, nn.LSTM
//                               and nn.Linear name them (embedding.weight, lstm.weight_ih_l0,
//                               head.weight, ...; output_bias when the weights are tied)
#pragma once

#include <ostream>
#include <string>

namespace poet {

constexpr const char* kExportFormat = "poet_dist.export";
constexpr int64_t kExportVersion = 1;

struct ExportOptions {
  std::string checkpoint;
  std::string output;
};

// Writes atomically (a temporary name, then rename); throws poet::Error naming the file.
void export_model(const ExportOptions& options, std::ostream& log);

}  // namespace poet
