// Where a model runs, named the way PyTorch users name it: "cpu", "cuda",
// "cuda:1", or "auto" (also ""): this process's GPU, cuda:$LOCAL_RANK, when
// LibTorch sees one, else the CPU.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>

namespace opd::model {

// Throws one error naming `key` when `name` is not a device, is a CUDA device
// this LibTorch or machine does not have, or its index is out of range.
at::Device resolve_device(const std::string& name, int64_t local_rank, const std::string& key);

// True when this process can place tensors on a CUDA device.
bool cuda_available();

// Throws naming `key` when `dtype` cannot compute on `device`: float16 on
// the CPU (LibTorch has no half-precision matmul there; bfloat16 or float32 do).
void check_dtype_runs_on(at::ScalarType dtype, const c10::Device& device, const std::string& key);

}  // namespace opd::model
