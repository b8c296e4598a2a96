// PoetModelImpl: construction, forward, and the compute dtype.
#include "model/poet_model.h"

#include <ATen/Context.h>
#include <torch/nn/functional/linear.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace poet {

PoetModelImpl::PoetModelImpl(int64_t vocab_size, const ModelConfig& config) : vocab_size_(vocab_size), config_(config) {
  embedding_ = register_module("embedding", torch::nn::Embedding(vocab_size, config.embed));
  lstm_ = register_module(
      "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(config.embed, config.hidden).num_layers(config.layers)));
  // Module::to() keeps these tensor objects (it replaces their data), so the handles stay valid.
  const auto parameters = lstm_->named_parameters();
  for (int64_t l = 0; l < config.layers; ++l) {
    layer_weights_.emplace_back();
    for (const char* name : {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"}) {
      layer_weights_.back().push_back(parameters[name + std::to_string(l)]);
    }
  }
  if (config.tie_weights) {
    tied_bias_ = register_parameter("output_bias", torch::zeros({vocab_size}));
  } else {
    head_ = register_module("head", torch::nn::Linear(config.hidden, vocab_size));
  }
}

Precision mixed_precision(const torch::Device& device) {
  return {device.is_cuda() ? torch::kFloat32 : torch::kBFloat16, torch::kBFloat16};
}

void PoetModelImpl::set_precision(Precision precision) {
  for (torch::ScalarType dtype : {precision.lstm, precision.output}) {
    if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) {
      throw Error(std::string("the model computes in fp32 or bf16, not ") + c10::toString(dtype));
    }
  }
  precision_ = precision;
}

// Dropout sites: 0 the embedding, l the input of layer l, `layers` the last layer's output.
torch::Tensor PoetModelImpl::drop(const torch::Tensor& x, int64_t site, bool time_major, const DropoutKey* key) const {
  if (!is_training() || config_.dropout == 0) return x;
  if (key == nullptr) throw Error("PoetModel: training with dropout needs a DropoutKey (model/dropout_masks.h)");
  const int64_t rows = x.size(time_major ? 1 : 0);
  if (key->rows.numel() != rows) {
    throw Error("PoetModel: the dropout key names " + std::to_string(key->rows.numel()) + " rows for a batch of " +
                std::to_string(rows));
  }
  const torch::Tensor mask = dropout_mask(*key, site, x.size(time_major ? 0 : 1), x.size(2), config_.dropout,
                                          x.options());  // (B, T, F)
  return x * (time_major ? mask.transpose(0, 1) : mask);
}

// Through torch::lstm rather than the module, a layer a call (see the header), so that it can be
// given weights in the LSTM's dtype: in fp32 the casts return the parameters themselves.
std::tuple<torch::Tensor, LstmState> PoetModelImpl::hidden(const torch::Tensor& tokens, const LstmState* state,
                                                           const DropoutKey* dropout) {
  // Time-major between the layers, as LibTorch's own multi-layer LSTM runs.
  torch::Tensor x = drop(embedding_(tokens), 0, false, dropout).to(precision_.lstm).transpose(0, 1);  // (T, B, E)
  std::vector<torch::Tensor> h_n;
  std::vector<torch::Tensor> c_n;
  for (int64_t l = 0; l < config_.layers; ++l) {
    if (l > 0) x = drop(x, l, true, dropout);
    std::vector<torch::Tensor> weights;
    for (const torch::Tensor& w : layer_weights_[static_cast<size_t>(l)]) weights.push_back(w.to(precision_.lstm));
    torch::Tensor h0;
    torch::Tensor c0;
    if (state != nullptr) {
      h0 = std::get<0>(*state).narrow(0, l, 1).to(precision_.lstm);
      c0 = std::get<1>(*state).narrow(0, l, 1).to(precision_.lstm);
    } else {
      h0 = c0 = torch::zeros({1, x.size(1), config_.hidden}, x.options());
    }
    auto [output, h, c] = torch::lstm(x, {h0, c0}, weights, /*has_biases=*/true, /*num_layers=*/1, /*dropout=*/0.0,
                                      is_training(), /*bidirectional=*/false, /*batch_first=*/false);
    x = output;
    h_n.push_back(h);
    c_n.push_back(c);
  }
  return {drop(x.transpose(0, 1), config_.layers, false, dropout), LstmState{torch::cat(h_n), torch::cat(c_n)}};
}

void PoetModelImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  Module::to(device, dtype, non_blocking);
  flatten_for_cudnn();
}

void PoetModelImpl::to(torch::Dtype dtype, bool non_blocking) {
  Module::to(dtype, non_blocking);
  flatten_for_cudnn();
}

void PoetModelImpl::to(torch::Device device, bool non_blocking) {
  Module::to(device, non_blocking);
  flatten_for_cudnn();
}

// cuDNN takes an LSTM's weights in place (without a copy and a warning each call) only when they
// fill one buffer in its own layout. LSTMImpl::to() lays all layers out in one buffer; the layers
// run a call each, so each gets a buffer of its own, the same way.
void PoetModelImpl::flatten_for_cudnn() {
  if (!device().is_cuda() || !torch::cudnn_is_acceptable(output_bias())) return;
  torch::NoGradGuard no_grad;
  constexpr int64_t kCudnnLstm = 2;  // cudnnRNNMode_t CUDNN_LSTM
  for (int64_t l = 0; l < config_.layers; ++l) {
    torch::_cudnn_rnn_flatten_weight(layer_weights_[static_cast<size_t>(l)], /*weight_stride0=*/4,
                                     l == 0 ? config_.embed : config_.hidden, kCudnnLstm, config_.hidden,
                                     /*proj_size=*/0, /*num_layers=*/1,
                                     /*batch_first=*/false, /*bidirectional=*/false);
  }
}

const torch::Tensor& PoetModelImpl::output_weight() const {
  return config_.tie_weights ? embedding_->weight : head_->weight;
}

const torch::Tensor& PoetModelImpl::output_bias() const { return config_.tie_weights ? tied_bias_ : head_->bias; }

torch::Tensor PoetModelImpl::logits(const torch::Tensor& h) const {
  return torch::nn::functional::linear(h.to(precision_.output), output_weight().to(precision_.output),
                                       output_bias().to(precision_.output));
}

std::tuple<torch::Tensor, LstmState> PoetModelImpl::forward(const torch::Tensor& tokens, const LstmState* state,
                                                            const DropoutKey* dropout) {
  auto [h, new_state] = hidden(tokens, state, dropout);
  return {logits(h).to(torch::kFloat32), new_state};  // (B, T, V)
}

ComputedDtypes PoetModelImpl::computed_dtypes() {
  torch::NoGradGuard no_grad;
  const bool training = is_training();
  eval();
  const auto h = std::get<0>(hidden(torch::zeros({1, 1}, torch::dtype(torch::kInt64).device(device()))));
  const bool tf32 = h.scalar_type() == torch::kFloat32 && h.is_cuda() && torch::cudnn_is_acceptable(h) &&
                    at::globalContext().allowTF32CuDNN();
  const ComputedDtypes seen{output_bias().scalar_type(), h.scalar_type(), tf32, logits(h).scalar_type()};
  train(training);
  return seen;
}

std::string ComputedDtypes::describe() const {
  const auto name = [](torch::ScalarType t) -> std::string {
    return t == torch::kFloat32 ? "fp32" : t == torch::kBFloat16 ? "bf16" : c10::toString(t);
  };
  return "LSTM " + name(lstm) + (lstm_tf32 ? " (TF32 tensor cores)" : "") + ", output layer " + name(output) +
         ", softmax and loss fp32, weights and AdamW " + name(weights);
}

double PoetModelImpl::forward_macs_per_token() const {
  const double e = static_cast<double>(config_.embed);
  const double h = static_cast<double>(config_.hidden);
  // Each layer: 4 gates over [input, hidden]; then the output projection.
  double macs = 4.0 * h * (e + h);
  macs += static_cast<double>(config_.layers - 1) * 4.0 * h * (h + h);
  macs += h * static_cast<double>(vocab_size_);
  return macs;
}

}  // namespace poet
