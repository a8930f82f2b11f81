// Where a training step's tensors live. An ATen observer (RecordFunction)
// sees the outputs of every op the step runs, on every thread (autograd's
// included), and records their devices: a step configured for one device
// must make nothing on another, apart from the token batch the host packs.
#include "opd/model/device.h"
#include "opd/train/trainer.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace opd::train {
namespace {

using opd::testing::ScratchDir;

// What one op made: its name, and the device, dtype and size of one output.
struct MadeTensor {
  std::string op;
  c10::Device device = at::kCPU;
  bool floating = false;
  int64_t numel = 0;
};

// The outputs seen while a DeviceRecorder lives (one at a time).
class DeviceRecorder {
 public:
  DeviceRecorder() {
    std::lock_guard<std::mutex> lock(mutex());
    made().clear();
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(&on_start, &on_end).needsOutputs(true));
  }
  ~DeviceRecorder() { at::removeCallback(handle_); }
  DeviceRecorder(const DeviceRecorder&) = delete;
  DeviceRecorder& operator=(const DeviceRecorder&) = delete;

  std::vector<MadeTensor> tensors() const {
    std::lock_guard<std::mutex> lock(mutex());
    return made();
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<MadeTensor>& made() {
    static std::vector<MadeTensor> v;
    return v;
  }
  static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction&) { return nullptr; }
  static void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
    std::vector<MadeTensor> seen;
    auto add = [&](const at::Tensor& t) {
      if (t.defined()) seen.push_back({fn.name(), t.device(), at::isFloatingType(t.scalar_type()), t.numel()});
    };
    for (const auto& v : fn.outputs()) {
      if (v.isTensor()) add(v.toTensor());
      if (v.isTensorList()) {
        for (const at::Tensor& t : v.toTensorVector()) add(t);
      }
    }
    std::lock_guard<std::mutex> lock(mutex());
    made().insert(made().end(), seen.begin(), seen.end());
  }

  at::CallbackHandle handle_;
};

// The distinct devices among `made`, with an op that made a tensor on each.
std::map<std::string, std::string> devices_of(const std::vector<MadeTensor>& made) {
  std::map<std::string, std::string> out;
  for (const auto& t : made) out.emplace(t.device.str(), t.op);
  return out;
}

// One step of the smoke run with `overrides` (objectives that read teacher
// log-probs, its top-k, trust masks and a reference model), everything on `device`.
std::vector<MadeTensor> tensors_of_a_step(const std::string& device, const std::vector<std::string>& overrides) {
  ScratchDir dir("opd-step-devices");
  auto all = overrides;
  all.push_back("student.device=" + device);
  all.push_back("teacher.device=" + device);
  auto config = smoke_config(dir, 1, all);
  Trainer trainer(config);
  DeviceRecorder recorder;
  trainer.step(0);
  return recorder.tensors();
}

const std::vector<std::vector<std::string>> kObjectives = {
    {"objective.name=opd"},
    {"objective.name=tropd", "objective.top_k=16", "rollout.teacher_prefix_length=4"},
    {"objective.name=gopd", "objective.lambda=1.25"},
};

TEST(StepDevices, TheRecorderSeesEveryOutput) {
  // The control: ops on another device (meta) than the rest are seen.
  DeviceRecorder recorder;
  auto x = at::empty({3, 5}, at::kMeta);
  auto y = at::ones({2}) + 1;
  const auto devices = devices_of(recorder.tensors());
  EXPECT_EQ(devices.count("meta"), 1u);
  EXPECT_EQ(devices.count("cpu"), 1u);
}

TEST(StepDevices, ACpuStepMakesNothingElsewhere) {
  for (const auto& overrides : kObjectives) {
    SCOPED_TRACE(overrides.front());
    const auto made = tensors_of_a_step("cpu", overrides);
    EXPECT_GT(made.size(), 100u) << "the observer saw too few ops to have seen a step";
    const auto devices = devices_of(made);
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices.begin()->first, "cpu");
  }
}

TEST(StepDevices, ACudaStepKeepsEveryVocabularySizedTensorOnTheGpu) {
  if (!model::cuda_available()) GTEST_SKIP() << "no GPU visible to this process: the CUDA step cannot run here";
  for (const auto& overrides : kObjectives) {
    SCOPED_TRACE(overrides.front());
    const auto made = tensors_of_a_step("cuda", overrides);
    EXPECT_EQ(devices_of(made).count("cuda:0"), 1u);
    // The host packs token ids, masks and lengths ([rows, T] with T < 64
    // here); nothing as large as a vocabulary row per sequence (logits,
    // scores, weights, gradients) is made there.
    constexpr int64_t kRows = 8 * 2, kVocab = 64;  // the smoke run's prompts x samples, vocabulary
    for (const auto& t : made) {
      EXPECT_FALSE(t.device.is_cpu() && t.floating && t.numel >= kRows * kVocab)
          << t.op << " made a float tensor of " << t.numel << " elements on the CPU";
    }
  }
}

}  // namespace
}  // namespace opd::train
