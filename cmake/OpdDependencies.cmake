# Every third-party package comes from Debian (tools/setup.sh) or, for a CUDA
# build, from a LibTorch passed through Torch_DIR / CMAKE_PREFIX_PATH.

find_package(Torch REQUIRED)
if(Torch_VERSION)
  message(STATUS "opd: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}")
endif()
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
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

# TORCH_LIBRARIES is a plain list; wrap it once so targets link one name.
if(NOT TARGET opd_torch)
  add_library(opd_torch INTERFACE)
  target_link_libraries(opd_torch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(opd_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  separate_arguments(_opd_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(opd_torch INTERFACE ${_opd_torch_flags})
endif()
