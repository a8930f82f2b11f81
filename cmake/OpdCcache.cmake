# ccache halves rebuild time on 2 cores; a missing ccache is not an error.
# Compiles that use the precompiled header are cached only with these
# sloppiness settings (otherwise ccache reports "could not use precompiled
# header" and compiles every file afresh); -fpch-preprocess lets its
# preprocessor mode see the header too.
if(OPD_USE_CCACHE)
  find_program(OPD_CCACHE ccache)
  if(OPD_CCACHE)
    set(_opd_ccache ${CMAKE_COMMAND} -E env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        ${OPD_CCACHE})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${_opd_ccache})
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${_opd_ccache})
    if(OPD_USE_PCH AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fpch-preprocess>)
    endif()
    message(STATUS "opd: compiling through ${OPD_CCACHE}")
  endif()
endif()
