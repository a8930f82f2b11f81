# Script mode (cmake -P): install opd, configure + build the consumer against
# the install prefix, and run it. Any failing step fails the test.
file(REMOVE_RECURSE ${WORK_DIR})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()
step(${CMAKE_COMMAND} --install ${OPD_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
# The paper harness (opd_paper) is opd-bench's, not part of the installed API.
file(GLOB_RECURSE _paper_files ${WORK_DIR}/prefix/include/opd/paper/* ${WORK_DIR}/prefix/lib*/*opd_paper*)
if(_paper_files)
  message(FATAL_ERROR "the install holds the paper harness: ${_paper_files}")
endif()
step(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja
     -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer)
if(NOT step_output MATCHES "consumer: logits \\[1, 3, 32\\]")
  message(FATAL_ERROR "consumer printed: ${step_output}")
endif()
message(STATUS "${step_output}")
