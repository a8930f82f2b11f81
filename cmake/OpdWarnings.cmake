# One warning set for every target opd builds: the library, the paper
# harness, the tools, the tests, the benchmarks, and the host side of
# kernels/. Never -Werror: a newer compiler's new warning must not break a
# user's build. -Wno-unused-parameter: overrides and callbacks that ignore an
# argument keep its name on purpose. Third-party headers come in as SYSTEM
# includes, so only opd's own code is warned about.
set(OPD_WARNINGS -Wall -Wextra -Wno-unused-parameter)

function(opd_target_warnings target)
  string(REPLACE ";" "," _host "${OPD_WARNINGS}")
  target_compile_options(${target} PRIVATE
    "$<$<COMPILE_LANGUAGE:CXX>:${OPD_WARNINGS}>"
    "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=${_host}>")
endfunction()
