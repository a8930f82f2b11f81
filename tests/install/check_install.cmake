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
# The installed tools find their data relative to themselves, wherever the
# prefix is moved, and never in the source or build trees: a moved prefix's
# opd-make-tiny + opd-generate render a named chat template from it.
file(RENAME ${WORK_DIR}/prefix ${WORK_DIR}/moved)
step(${WORK_DIR}/moved/bin/opd-make-tiny --char-tokenizer --out ${WORK_DIR}/model)
execute_process(COMMAND ${WORK_DIR}/moved/bin/opd-generate --model ${WORK_DIR}/model --chat-template no_such_template
                        --prompt hi --max-new-tokens 1
                WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "${WORK_DIR}/moved/share/opd/chat_templates/no_such_template.yaml"
   OR err MATCHES "${OPD_SOURCE_DIR}/configs")
  message(FATAL_ERROR "a moved prefix's opd-generate looked for templates elsewhere (${rc}): ${out}${err}")
endif()
step(${WORK_DIR}/moved/bin/opd-generate --model ${WORK_DIR}/model --chat-template qwen3 --prompt hi --max-new-tokens 1)
file(RENAME ${WORK_DIR}/moved ${WORK_DIR}/prefix)
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
