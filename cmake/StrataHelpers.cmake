# Small helpers so every folder declares its targets the same way.

# Warnings for Strata's own code (generated code is exempt).
function(strata_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror=unused-result)
  if(STRATA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# strata_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Defines target strata_<name> with alias strata::<name>; public headers live
# in <folder>/include.
function(strata_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(strata_${name} STATIC ${ARG_SOURCES})
  add_library(strata::${name} ALIAS strata_${name})
  target_include_directories(strata_${name} PUBLIC
                             ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(strata_${name} PUBLIC ${ARG_PUBLIC_DEPS}
                        PRIVATE ${ARG_PRIVATE_DEPS})
  strata_set_warnings(strata_${name})
endfunction()

# strata_binary(<name> SOURCES ... [DEPS ...])
function(strata_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  strata_set_warnings(${name})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                           ${CMAKE_BINARY_DIR}/bin)
endfunction()

# strata_test(<name> SOURCES ... [DEPS ...] [LABELS ...])
# A GoogleTest binary whose cases are registered one by one with CTest.
function(strata_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  strata_set_warnings(${name})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                           ${CMAKE_BINARY_DIR}/tests)
  # Where tests find the built binaries and the sources. (A list-valued
  # ENVIRONMENT property does not survive gtest_discover_tests' argument
  # handling, so the source dir is also compiled in.)
  target_compile_definitions(${name} PRIVATE
    STRATA_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    STRATA_TEST_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}"
               ENVIRONMENT "STRATA_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endfunction()
