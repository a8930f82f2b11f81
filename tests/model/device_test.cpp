// Device names as recipes and flags give them.
#include "opd/model/device.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

namespace opd::model {
namespace {

TEST(Device, AutoIsTheLocalGpuOrTheCpu) {
  const auto device = resolve_device("auto", 0, "student.device");
  EXPECT_EQ(device, cuda_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU));
  EXPECT_EQ(resolve_device("", 0, "student.device"), device);
  EXPECT_EQ(resolve_device("cpu", 3, "student.device"), at::Device(at::kCPU));
}

TEST(Device, BadNamesAreOneErrorNamingTheKey) {
  testing::expect_error([] { resolve_device("gpu0", 0, "teacher.device"); },
                        {"teacher.device", "'gpu0' is not a device", "cuda:<index>"});
  testing::expect_error([] { resolve_device("mps", 0, "teacher.device"); },
                        {"teacher.device", "'mps' is not a device opd runs on"});
  testing::expect_error([] { resolve_device("cuda:99", 0, "--device"); }, {"--device", "'cuda:99'"});
}

TEST(Device, CudaWithoutAGpuSaysSo) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is visible: the no-GPU errors cannot be shown here";
  testing::expect_error([] { resolve_device("cuda", 0, "student.device"); }, {"student.device", "'cuda' needs"});
}

}  // namespace
}  // namespace opd::model
