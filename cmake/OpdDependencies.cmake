# LibTorch comes from the torch wheel of a Python venv (tools/setup.sh makes
# .venv/ with the CPU wheel; a CUDA build names a venv with the CUDA wheel);
# every other C++ package from Debian (tools/setup.sh).

# The Python whose torch gives LibTorch; the reference tests run with it too.
set(OPD_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python3" CACHE FILEPATH
  "Python with torch (LibTorch via torch.utils.cmake_prefix_path) and the reference packages")
if(NOT Torch_DIR)
  if(NOT EXISTS "${OPD_PYTHON}")
    message(FATAL_ERROR "opd: no Python at ${OPD_PYTHON} (OPD_PYTHON); run tools/setup.sh, "
                        "or pass -DOPD_PYTHON=<python with torch> or -DTorch_DIR=<LibTorch>/share/cmake/Torch")
  endif()
  execute_process(COMMAND "${OPD_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path, end='')"
    OUTPUT_VARIABLE _opd_torch_prefix RESULT_VARIABLE _opd_torch_rc ERROR_VARIABLE _opd_torch_err)
  if(NOT _opd_torch_rc EQUAL 0)
    message(FATAL_ERROR "opd: ${OPD_PYTHON} cannot import torch: ${_opd_torch_err}")
  endif()
  set(Torch_DIR "${_opd_torch_prefix}/Torch" CACHE PATH "LibTorch's CMake package" FORCE)
endif()
if(NOT OPD_CUDA STREQUAL "OFF")
  include(OpdCudaWheel)
endif()
find_package(Torch 2 REQUIRED)
# The C++ standard LibTorch's headers demand of their includers, as
# ATen/ATen.h checks it: C++17 up to 2.13, C++20 from 2.14. opd's own code
# is C++17 and builds as either.
file(STRINGS "${TORCH_INSTALL_PREFIX}/include/ATen/ATen.h" _opd_aten_std REGEX "__cplusplus < [0-9]+L")
if(_opd_aten_std MATCHES "202002L")
  set(CMAKE_CXX_STANDARD 20)
endif()
message(STATUS "opd: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX} (C++${CMAKE_CXX_STANDARD})")

# The wheel ships c10d's headers but not Gloo's, which ProcessGroupGloo.hpp
# includes for declarations only: Gloo itself is compiled into libtorch_cpu,
# and opd only holds Gloo objects through pointers, so any Gloo's headers will
# do (the header guards the newer store API with GLOO_STORE_HAS_STORE_V2).
# They come from Debian's libgloo-dev; its library is never linked.
find_path(OPD_GLOO_INCLUDE gloo/rendezvous/store.h)
if(NOT OPD_GLOO_INCLUDE)
  message(FATAL_ERROR "opd: Gloo's headers (gloo/rendezvous/store.h) not found; tools/setup.sh installs libgloo-dev")
endif()
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
# LibTorch's include directory carries its own {fmt} (a newer, header-only
# one) and is searched before /usr/include, while Debian's spdlog is built
# against Debian's fmt. So opd's <fmt/...> must resolve to Debian's: a
# directory holding only a link to those headers goes first on opd's include
# path (opd_fmt is linked before opd_torch).
find_path(OPD_FMT_INCLUDE fmt/format.h PATHS /usr/include NO_DEFAULT_PATH)
find_path(OPD_FMT_INCLUDE fmt/format.h)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/fmt-include)
file(CREATE_LINK ${OPD_FMT_INCLUDE}/fmt ${PROJECT_BINARY_DIR}/fmt-include/fmt SYMBOLIC)
if(NOT TARGET opd_fmt)
  add_library(opd_fmt INTERFACE)
  target_include_directories(opd_fmt SYSTEM INTERFACE $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/fmt-include>)
  target_link_libraries(opd_fmt INTERFACE fmt::fmt spdlog::spdlog)
endif()
# Tokenizers: PCRE2 for tokenizer.json split regexes (\p{L}, lookahead),
# utf8proc for Unicode normalisation, libsentencepiece for .model files.
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPD_PCRE2 REQUIRED IMPORTED_TARGET GLOBAL libpcre2-8)
pkg_check_modules(OPD_UTF8PROC REQUIRED IMPORTED_TARGET GLOBAL libutf8proc)
# Its pkg-config file adds -DUTF8PROC_EXPORTS (a Windows DLL switch); opd
# would then compile with a define its tests lack, and they would reject the
# shared precompiled header.
set_target_properties(PkgConfig::OPD_UTF8PROC PROPERTIES INTERFACE_COMPILE_OPTIONS "")
pkg_check_modules(OPD_SENTENCEPIECE REQUIRED IMPORTED_TARGET GLOBAL sentencepiece)
# Pre-tokenized datasets (opd-prepare, data/prompt_store.h): HDF5's C++ API
# (the CXX component alone: the project enables no C compiler).
find_package(HDF5 REQUIRED COMPONENTS CXX)
if(NOT TARGET opd_hdf5)
  add_library(opd_hdf5 INTERFACE)
  target_include_directories(opd_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
  target_link_libraries(opd_hdf5 INTERFACE ${HDF5_LIBRARIES})
endif()
find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  # Debian's libcli11-dev ships the headers and a pkg-config file only.
  find_path(OPD_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${OPD_CLI11_INCLUDE})
endif()

# TORCH_LIBRARIES is a plain list; wrap it once so targets link one name. The
# imported `torch` target in it carries LibTorch's include directories (as
# system headers) and TORCH_CXX_FLAGS.
if(NOT TARGET opd_torch)
  add_library(opd_torch INTERFACE)
  target_link_libraries(opd_torch INTERFACE ${TORCH_LIBRARIES})
  if(OPD_CUDA_WHEEL_INCLUDES)
    target_include_directories(opd_torch SYSTEM AFTER INTERFACE "$<BUILD_INTERFACE:${OPD_CUDA_WHEEL_INCLUDES}>")
  endif()
endif()
