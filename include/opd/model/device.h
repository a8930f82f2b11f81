// Where a model runs, named the way PyTorch users name it: "cpu", "cuda",
// "cuda:1", or "auto" (also ""): this process's GPU, cuda:$LOCAL_RANK, when
// LibTorch sees one, else the CPU.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace opd::model {

// Throws one error naming `key` when `name` is not a device, is a CUDA device
// this LibTorch or machine does not have, or its index is out of range.
at::Device resolve_device(const std::string& name, int64_t local_rank, const std::string& key);

// True when this process can place tensors on a CUDA device.
bool cuda_available();

}  // namespace opd::model
