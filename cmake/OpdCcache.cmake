# ccache halves rebuild time on 2 cores; a missing ccache is not an error.
if(OPD_USE_CCACHE)
  find_program(OPD_CCACHE ccache)
  if(OPD_CCACHE)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${OPD_CCACHE})
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${OPD_CCACHE})
    message(STATUS "opd: compiling through ${OPD_CCACHE}")
  endif()
endif()
