#include "opd/model/device.h"

#include <ATen/Context.h>
#include <c10/util/Exception.h>

namespace opd::model {

bool cuda_available() { return at::hasCUDA() && at::getNumGPUs() > 0; }

namespace {

// cuda:`index`, checked against the GPUs this process sees; `name` and `key` say who asked.
at::Device visible_gpu(int64_t index, const std::string& name, const std::string& key) {
  const int64_t gpus = static_cast<int64_t>(at::getNumGPUs());
  TORCH_CHECK(index >= 0 && index < gpus, key, ": '", name, "' is cuda:", index, " but this machine has ", gpus,
              " GPU", gpus == 1 ? "" : "s", " (LOCAL_RANK, CUDA_VISIBLE_DEVICES: at most one process per GPU)");
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace

at::Device resolve_device(const std::string& name, int64_t local_rank, const std::string& key) {
  if (name.empty() || name == "auto") return cuda_available() ? visible_gpu(local_rank, "auto", key) : at::kCPU;
  at::Device device = at::kCPU;
  try {
    device = at::Device(name);
  } catch (const c10::Error&) {
    TORCH_CHECK(false, key, ": '", name, "' is not a device (expected auto, cpu, cuda or cuda:<index>)");
  }
  TORCH_CHECK(device.is_cpu() || device.is_cuda(), key, ": '", name,
              "' is not a device opd runs on (expected auto, cpu, cuda or cuda:<index>)");
  if (device.is_cpu()) return at::kCPU;
  TORCH_CHECK(at::hasCUDA(), key, ": '", name, "' needs CUDA, and this build of opd has no CUDA LibTorch ",
              "(build with -DOPD_CUDA=ON against a CUDA wheel, or use cpu)");
  TORCH_CHECK(at::getNumGPUs() > 0, key, ": '", name,
              "' needs a GPU and this machine has none visible (CUDA_VISIBLE_DEVICES?)");
  return visible_gpu(device.has_index() ? device.index() : local_rank, name, key);
}

void check_dtype_runs_on(at::ScalarType dtype, const c10::Device& device, const std::string& key) {
  TORCH_CHECK(!(dtype == at::kHalf && device.is_cpu()), key, ": float16 does not run on the CPU (LibTorch has no "
              "half-precision matmul there); use bfloat16 or float32, or a GPU device");
}

}  // namespace opd::model
