# A CUDA LibTorch from the pip wheel takes its CUDA libraries (cuBLAS, NVRTC,
# cuFFT, cuDNN, NCCL, ... and their headers) from the nvidia-* wheels beside
# it, while the CUDA toolkit on the machine may hold only nvcc and the
# runtime, as on the build machines. Caffe2's CMake config looks for those
# libraries as a toolkit lays them out, so before find_package(Torch) this:
#   - points FindCUDA at the toolkit nvcc lives in (the nvcc on PATH can be a
#     wrapper script outside it);
#   - gives each wheel library an unversioned link (libcublas.so ->
#     libcublas.so.13) in <build>/cuda-wheel-libs, where find_library looks;
#   - makes the wheels' include directories findable, and adds them to the
#     compile after the toolkit's own (OPD_CUDA_WHEEL_INCLUDES);
#   - sets TORCH_CUDA_ARCH_LIST from OPD_CUDA_ARCHITECTURES, so that the
#     config does not look for a GPU to pick architectures.
# Nothing here runs for a CPU wheel; a machine with a full toolkit finds
# everything where the toolkit has it first.

set(OPD_CUDA_WHEEL_INCLUDES "")

execute_process(
  COMMAND "${OPD_PYTHON}" -c [=[
import importlib.util, torch
spec = importlib.util.find_spec("nvidia")
print(torch.version.cuda or "", end="|")
print(";".join(spec.submodule_search_locations) if spec else "", end="")
]=]
  OUTPUT_VARIABLE _opd_wheel RESULT_VARIABLE _opd_wheel_rc ERROR_QUIET)
if(NOT _opd_wheel_rc EQUAL 0 OR _opd_wheel MATCHES "^\\|")
  return()  # no torch to ask, or a CPU build of it
endif()
string(REPLACE "|" ";" _opd_wheel "${_opd_wheel}")
list(GET _opd_wheel 0 _opd_wheel_cuda)
list(SUBLIST _opd_wheel 1 -1 _opd_nvidia_dirs)
message(STATUS "opd: CUDA ${_opd_wheel_cuda} LibTorch; CUDA libraries from ${_opd_nvidia_dirs}")

find_program(_opd_nvcc nvcc PATHS /usr/local/cuda/bin NO_DEFAULT_PATH)
if(_opd_nvcc AND NOT CUDA_TOOLKIT_ROOT_DIR)
  get_filename_component(_opd_toolkit "${_opd_nvcc}" DIRECTORY)
  get_filename_component(_opd_toolkit "${_opd_toolkit}" DIRECTORY)
  set(CUDA_TOOLKIT_ROOT_DIR "${_opd_toolkit}" CACHE PATH "The CUDA toolkit nvcc belongs to")
endif()

set(_opd_links "${PROJECT_BINARY_DIR}/cuda-wheel-libs")
file(MAKE_DIRECTORY "${_opd_links}")
foreach(_dir ${_opd_nvidia_dirs})
  file(GLOB _libs "${_dir}/*/lib/lib*.so.*")
  foreach(_lib ${_libs})
    get_filename_component(_name "${_lib}" NAME)
    string(REGEX REPLACE "\\.so\\..*$" ".so" _name "${_name}")
    if(NOT EXISTS "${_opd_links}/${_name}")
      file(CREATE_LINK "${_lib}" "${_opd_links}/${_name}" SYMBOLIC)
    endif()
  endforeach()
  file(GLOB _includes LIST_DIRECTORIES true "${_dir}/*/include")
  list(APPEND OPD_CUDA_WHEEL_INCLUDES ${_includes})
endforeach()
list(APPEND CMAKE_LIBRARY_PATH "${_opd_links}")
list(APPEND CMAKE_INCLUDE_PATH ${OPD_CUDA_WHEEL_INCLUDES})

if(NOT DEFINED TORCH_CUDA_ARCH_LIST)
  set(TORCH_CUDA_ARCH_LIST "")
  foreach(_arch ${OPD_CUDA_ARCHITECTURES})
    string(REGEX REPLACE "^([0-9]+)([0-9])([a-z]?)$" "\\1.\\2\\3" _arch "${_arch}")  # 90a -> 9.0a
    list(APPEND TORCH_CUDA_ARCH_LIST "${_arch}")
  endforeach()
endif()
