# `cmake --install build --prefix P` (or `make install PREFIX=P`): the program,
# both libraries, the header, granite.pc, the CMake package granite::granite,
# the man page and the Python module, each in its usual place under P.
include(CMakePackageConfigHelpers)

set(GRANITE_PYTHON_DIR "lib/python3/dist-packages" CACHE STRING
  "where the Python module goes, relative to the prefix (Debian's python3 reads lib/python3/dist-packages under /usr)")
set(GRANITE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/granite")

install(TARGETS granite RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS granite_lib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS granite_shared EXPORT graniteTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES include/granite.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_BINARY_DIR}/granite.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# pkg-config: the shared library by default; --static adds what libgranite.a needs.
set(GRANITE_PC_PRIVATE_LIBS "-lopenblas -lZydis")
if(ZYCORE_LIB)
  string(APPEND GRANITE_PC_PRIVATE_LIBS " -lZycore")
endif()
string(APPEND GRANITE_PC_PRIVATE_LIBS " -lprotobuf-c -lgomp -lpthread -lm")
# relocatable: the prefix is found from where granite.pc lies (--prefix at install time may differ)
file(RELATIVE_PATH GRANITE_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(cmake/granite.pc.in ${CMAKE_BINARY_DIR}/granite.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/granite.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake: find_package(granite [VERSION]) -> granite::granite (the shared library).
install(EXPORT graniteTargets NAMESPACE granite:: DESTINATION ${GRANITE_CMAKE_DIR})
configure_package_config_file(cmake/graniteConfig.cmake.in ${CMAKE_BINARY_DIR}/graniteConfig.cmake
  INSTALL_DESTINATION ${GRANITE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/graniteConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/graniteConfig.cmake ${CMAKE_BINARY_DIR}/graniteConfigVersion.cmake
  DESTINATION ${GRANITE_CMAKE_DIR})

# Python: the package, plus where the library lies relative to it, so that
# `import granite` finds the libgranite.so installed with it.
install(DIRECTORY python/granite DESTINATION ${GRANITE_PYTHON_DIR}
  FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
install(CODE "
  set(dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${GRANITE_PYTHON_DIR}/granite\")
  file(RELATIVE_PATH rel \"\${CMAKE_INSTALL_PREFIX}/${GRANITE_PYTHON_DIR}/granite\"
       \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")
  file(WRITE \"\${dest}/_install.py\"
       \"# Written by cmake --install: the library directory, relative to this package.\\nLIBDIR = '\${rel}'\\n\")
  message(STATUS \"Installing: \${dest}/_install.py\")")
