// GradientReducer in one process, with a communicator that doubles what it reduces (two
// identical ranks): bucket plans, gradients as bucket views, buckets started during backward and
// in order, nothing started before the last micro-batch, and the sums the optimizer then sees.
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

#include "collectives/local_communicator.h"
#include "config/train_config.h"
#include "model/poet_model.h"
#include "trainer/gradient_reducer.h"
#include "trainer/train_step.h"

namespace poet {
namespace {

// Two ranks that computed the same gradients: the sum is twice each.
class DoublingCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 2; }
  const char* backend() const override { return "test"; }
  torch::Device device() const override { return torch::Device(torch::kCPU); }
  std::unique_ptr<PendingCollective> start_all_reduce_sum(const torch::Tensor& tensor,
                                                          const std::string& label) override {
    started.push_back(label);
    torch::Tensor t = tensor;
    t.mul_(2);
    return std::make_unique<Done>();
  }
  void set_timeouts(const CollectiveTimeouts&) override {}
  void broadcast(torch::Tensor&, int) override {}
  void barrier() override {}
  std::vector<int64_t> all_gather(int64_t value) override { return {value, value}; }
  std::vector<std::string> all_gather(const std::string& value) override { return {value, value}; }

  std::vector<std::string> started;

 private:
  struct Done final : PendingCollective {
    bool test() override { return true; }
    void wait() override {}
  };
};

TEST(GradientReducer, PlansBucketsLikeDdp) {
  // A first bucket of 1 MiB, then 25 MiB ones; a bucket closes once it reaches its cap.
  const int64_t mib = 1 << 20;
  const auto plan = plan_buckets({mib / 2, mib / 2, 10 * mib, 20 * mib, mib, 30 * mib, 4}, mib, 25 * mib);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0], (std::vector<size_t>{0, 1}));
  EXPECT_EQ(plan[1], (std::vector<size_t>{2, 3}));
  EXPECT_EQ(plan[2], (std::vector<size_t>{4, 5}));
  EXPECT_EQ(plan[3], (std::vector<size_t>{6}));
  EXPECT_TRUE(plan_buckets({}, mib, 25 * mib).empty());
}

class Reducer : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(5);
    ModelConfig config;
    config.embed = 16;
    config.hidden = 24;
    config.layers = 2;
    config.dropout = 0;
    model_ = PoetModel(50, config);
    model_->train();
    inputs_ = torch::randint(50, {3, 7}, torch::kInt64);
  }
  torch::Tensor loss() {
    const auto logits = std::get<0>(model_->forward(inputs_));
    return logits.pow(2).mean();
  }
  // The gradients of loss() without any reducer.
  std::vector<torch::Tensor> reference() {
    for (auto& p : model_->parameters()) p.mutable_grad() = torch::Tensor();
    loss().backward();
    std::vector<torch::Tensor> grads;
    for (auto& p : model_->parameters()) grads.push_back(p.grad().clone());
    for (auto& p : model_->parameters()) p.mutable_grad() = torch::Tensor();
    return grads;
  }

  PoetModel model_{nullptr};
  torch::Tensor inputs_;
};

TEST_F(Reducer, BucketsStartDuringBackwardInOrderAndSumGradients) {
  const auto expected = reference();
  DoublingCommunicator comm;
  GradientReducer reducer(model_->parameters(), comm, 1024, 4096, nullptr);
  ASSERT_GE(reducer.bucket_count(), 3u);
  int64_t bytes = 0;
  for (int64_t b : reducer.bucket_bytes()) bytes += b;
  int64_t parameter_bytes = 0;
  for (const auto& p : model_->parameters()) parameter_bytes += p.numel() * 4;
  EXPECT_EQ(bytes, parameter_bytes);

  // Two micro-batches: only the last one's backward starts buckets.
  reducer.prepare_backward(false);
  loss().backward();
  EXPECT_TRUE(comm.started.empty());
  reducer.prepare_backward(true);
  loss().backward();
  ASSERT_EQ(comm.started.size(), reducer.bucket_count()) << "buckets were left for after backward";
  for (size_t i = 0; i < comm.started.size(); ++i) {
    EXPECT_EQ(comm.started[i].rfind("all_reduce of gradient bucket " + std::to_string(i) + " ", 0), 0u)
        << comm.started[i];
  }
  reducer.finish();
  const auto parameters = model_->parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    // Two micro-batches, then doubled by the "other rank".
    EXPECT_TRUE(torch::allclose(parameters[i].grad(), expected[i] * 4, 1e-5, 1e-7)) << i;
  }
}

TEST_F(Reducer, ARankWithoutRowsStillJoinsEveryBucket) {
  DoublingCommunicator comm;
  GradientReducer reducer(model_->parameters(), comm, 1024, 4096, nullptr);
  reducer.finish();  // no backward this step
  EXPECT_EQ(comm.started.size(), reducer.bucket_count());
  for (const auto& p : model_->parameters()) EXPECT_EQ(p.grad().abs().sum().item<double>(), 0.0);
}

// One process trains through the reducer of a LocalCommunicator: its gradients live in bucket
// views, and the optimizer must see exactly what plain backward gives.
TEST_F(Reducer, OneProcessTrainsExactlyAsWithoutAReducer) {
  const auto trained = [&](bool with_reducer) {
    torch::manual_seed(5);
    ModelConfig config;
    config.embed = 16;
    config.hidden = 24;
    config.dropout = 0;
    PoetModel model(50, config);
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
    LocalCommunicator comm(torch::Device(torch::kCPU));
    std::unique_ptr<GradientReducer> reducer;
    if (with_reducer) reducer = std::make_unique<GradientReducer>(model->parameters(), comm, 1024, 4096, nullptr);
    for (int step = 0; step < 5; ++step) {
      clear_gradients(model);
      if (reducer) reducer->prepare_backward(true);
      std::get<0>(model->forward(inputs_)).pow(2).mean().backward();
      if (reducer) reducer->finish();
      optimizer.step();
    }
    std::vector<torch::Tensor> out;
    for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
    return out;
  };
  const auto plain = trained(false);
  const auto reduced = trained(true);
  ASSERT_EQ(plain.size(), reduced.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(plain[i].equal(reduced[i])) << "parameter " << i;
}

}  // namespace
}  // namespace poet
