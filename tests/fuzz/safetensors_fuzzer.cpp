// .safetensors files (model/safetensors.h): the 8-byte header length, the JSON
// header and the byte ranges it names. The input is the whole file. Every
// refusal must be a c10::Error; every tensor of an accepted file must be
// readable to its last byte (a sum touches each element).
#include "fuzz_support.h"

#include "opd/model/safetensors.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static opd::fuzz::ScratchFile file(".safetensors");
  const std::string& path = file.write(data, size);
  opd::fuzz::expect_refusal_or_success<c10::Error>([&] {
    const auto st = opd::model::read_safetensors(path);
    for (const auto& [name, tensor] : st.tensors) {
      opd::fuzz::require(tensor.defined() && tensor.is_contiguous(), "tensors are defined and contiguous");
      if (tensor.numel() > 0) (void)tensor.to(at::kDouble).sum().item<double>();
    }
  });
  return 0;
}
