# `cmake --install` puts headers, the library, the tools and an opdConfig.cmake
# in the prefix, so that another project can find_package(opd) and link opd::opd.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_opd_export_targets opd opd_fmt opd_torch opd_hdf5)
if(TARGET opd_kernels AND OPD_WITH_CUDA)
  list(APPEND _opd_export_targets opd_kernels)
endif()
install(TARGETS ${_opd_export_targets} EXPORT opdTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS ${OPD_TOOL_TARGETS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS opd_sentencepiece LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/opd)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/chat_templates ${PROJECT_SOURCE_DIR}/configs/refinement
  DESTINATION ${CMAKE_INSTALL_DATADIR}/opd)
# opd/paper/ is the paper harness of opd-bench (opd_paper), not the library's API.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/opd DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  PATTERN paper EXCLUDE)
install(EXPORT opdTargets NAMESPACE opd:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/opd)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/opdConfig.cmake.in
  ${PROJECT_BINARY_DIR}/opdConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/opd)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/opdConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/opdConfig.cmake ${PROJECT_BINARY_DIR}/opdConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/opd)
