# ctest docs.config_reference_up_to_date: the committed reference must be
# exactly what `opd-train --print-config-reference` prints.
#   cmake -DOPD_TRAIN=<opd-train> -DREFERENCE=<docs/config_reference.md> -P CheckConfigReference.cmake
execute_process(COMMAND ${OPD_TRAIN} --print-config-reference
  OUTPUT_VARIABLE printed RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OPD_TRAIN} --print-config-reference failed (exit ${rc})")
endif()
file(READ ${REFERENCE} committed)
if(NOT printed STREQUAL committed)
  get_filename_component(dir ${REFERENCE} DIRECTORY)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/config_reference.printed.md "${printed}")
  execute_process(COMMAND diff -u ${REFERENCE} ${CMAKE_CURRENT_BINARY_DIR}/config_reference.printed.md)
  message(FATAL_ERROR "${REFERENCE} is stale (the config schemas changed); regenerate it with\n"
    "  ${OPD_TRAIN} --print-config-reference > ${REFERENCE}\nand commit it.")
endif()
