# OPD_CUDA=AUTO|ON|OFF decides whether the CUDA paths of the ops are built into
# the library. Independently, kernels/ always compile when nvcc exists, so CUDA
# code stays honest on machines with a CPU-only LibTorch (CI).

include(CheckLanguage)
if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
check_language(CUDA)
set(OPD_HAVE_NVCC OFF)
if(CMAKE_CUDA_COMPILER)
  # kernels/ names its architectures itself (OPD_CUDA_ARCHITECTURES): a CUDA
  # LibTorch's config overrides CMAKE_CUDA_ARCHITECTURES.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES ${OPD_CUDA_ARCHITECTURES})
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(OPD_HAVE_NVCC ON)
endif()

# A CUDA LibTorch defines the c10_cuda library; the CPU wheel's does not.
set(OPD_TORCH_HAS_CUDA OFF)
if(TARGET c10_cuda OR TORCH_CUDA_LIBRARIES)
  set(OPD_TORCH_HAS_CUDA ON)
endif()

if(OPD_CUDA STREQUAL "ON")
  if(NOT OPD_HAVE_NVCC)
    message(FATAL_ERROR "OPD_CUDA=ON but no nvcc was found (set CMAKE_CUDA_COMPILER)")
  endif()
  if(NOT OPD_TORCH_HAS_CUDA)
    message(FATAL_ERROR "OPD_CUDA=ON but LibTorch at ${TORCH_INSTALL_PREFIX} has no CUDA; "
                        "pass a CUDA LibTorch via -DTorch_DIR or -DCMAKE_PREFIX_PATH")
  endif()
  set(OPD_WITH_CUDA ON)
elseif(OPD_CUDA STREQUAL "AUTO")
  if(OPD_HAVE_NVCC AND OPD_TORCH_HAS_CUDA)
    set(OPD_WITH_CUDA ON)
  else()
    set(OPD_WITH_CUDA OFF)
  endif()
elseif(OPD_CUDA STREQUAL "OFF")
  set(OPD_WITH_CUDA OFF)
else()
  message(FATAL_ERROR "OPD_CUDA must be AUTO, ON or OFF, got '${OPD_CUDA}'")
endif()
message(STATUS "opd: nvcc=${OPD_HAVE_NVCC} torch_cuda=${OPD_TORCH_HAS_CUDA} -> CUDA ops ${OPD_WITH_CUDA}")
