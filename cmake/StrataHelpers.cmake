# Small helpers so every folder declares its targets the same way.

# Warnings for Strata's own code (generated code is exempt).
function(strata_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror=unused-result)
  if(STRATA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Unity builds: a target's sources compiled a few at a time as one
# translation unit.
function(strata_unity target)
  if(STRATA_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                          UNITY_BUILD_BATCH_SIZE 8)
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
  strata_unity(strata_${name})
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
# Test code only: through a precompiled header GCC 12 no longer treats
# libstdc++'s inlined code as a system header, so its access warnings fire
# inside std::string on ordinary test code ("__builtin_memcpy ... writing
# 40 bytes into a region of size 16", GCC bugs 105329, 105651). Strata's
# libraries, built without the precompiled header, keep them all.
function(strata_test_flags target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-array-bounds
                           -Wno-stringop-overflow -Wno-stringop-overread)
  endif()
endfunction()

# Test code at -O1 (after the build type's -O2, so it wins): the code under
# test is the libraries', built at -O2; the tests' own objects compile
# about a third faster (cli_binary_test.cc: 18.2 s of CPU, 26.6 s at -O2).
function(strata_test_opt target)
  if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo" OR
     CMAKE_BUILD_TYPE STREQUAL "Release")
    target_compile_options(${target} PRIVATE -O1)
  endif()
endfunction()

# Every test compiles against one shared precompiled header (GoogleTest,
# gRPC and the Strata protos, strata_test_pch below): parsing those headers
# was over half of a test file's compile time, and the tests are about half
# of the build. NO_GRPC: a test that must not link gRPC (neither the
# header, which pulls gRPC's initializer, nor its libraries).
function(strata_test name)
  cmake_parse_arguments(ARG "NO_GRPC" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  if(ARG_NO_GRPC)
    target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock
                          GTest::gtest_main)
  else()
    target_link_libraries(${name} PRIVATE ${ARG_DEPS} strata_test_pch_deps
                          GTest::gmock GTest::gtest_main)
  endif()
  strata_set_warnings(${name})
  strata_test_flags(${name})
  strata_test_opt(${name})
  strata_unity(${name})
  if(STRATA_TEST_PCH AND NOT ARG_NO_GRPC)
    target_precompile_headers(${name} REUSE_FROM strata_test_pch)
  endif()
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

# The precompiled header every strata_test reuses (see strata_test). Built
# with the same flags as the tests; a test whose flags differ would only
# lose the speed-up (GCC then reads the headers themselves).
function(strata_test_pch)
  add_library(strata_test_pch_deps INTERFACE)
  target_link_libraries(strata_test_pch_deps INTERFACE strata::proto_grpc
                        GTest::gmock GTest::gtest)
  if(NOT STRATA_TEST_PCH)
    return()
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/strata_test_pch.cc "")
  add_library(strata_test_pch STATIC ${CMAKE_BINARY_DIR}/strata_test_pch.cc)
  target_link_libraries(strata_test_pch PRIVATE strata_test_pch_deps)
  strata_set_warnings(strata_test_pch)
  strata_test_flags(strata_test_pch)
  strata_test_opt(strata_test_pch)
  target_compile_definitions(strata_test_pch PRIVATE
    STRATA_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    STRATA_TEST_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  target_precompile_headers(strata_test_pch PRIVATE
    <algorithm> <chrono> <functional> <map> <memory> <set> <string>
    <thread> <vector>
    <absl/status/status.h> <absl/status/statusor.h> <absl/time/time.h>
    <gmock/gmock.h> <gtest/gtest.h> <grpcpp/grpcpp.h>
    <strata/v1/admin.grpc.pb.h> <strata/v1/delivery.grpc.pb.h>
    <strata/v1/storage.pb.h>)
endfunction()

# A precompiled header of the heavy third-party headers (gRPC, protobuf
# and the Strata protos, Abseil), shared by the server libraries and the
# binaries that include them: parsing those headers was about half of
# each such file's compile (admin_service.cc: 20.9 s without, 11.2 s with
# it, GCC 12 -O2 -g1), and a cold build is most of CI's time. Only
# targets built without -fPIC reuse it (GCC would ignore it for the
# others and parse the headers themselves, which is only slower).
function(strata_lib_pch)
  if(NOT STRATA_LIB_PCH)
    return()
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/strata_lib_pch.cc "")
  add_library(strata_lib_pch STATIC ${CMAKE_BINARY_DIR}/strata_lib_pch.cc)
  target_link_libraries(strata_lib_pch PRIVATE strata::proto_grpc)
  strata_set_warnings(strata_lib_pch)
  target_precompile_headers(strata_lib_pch PRIVATE
    <algorithm> <functional> <map> <memory> <optional> <string> <vector>
    <absl/status/status.h> <absl/status/statusor.h>
    <absl/strings/str_cat.h> <absl/time/time.h> <grpcpp/grpcpp.h>
    <strata/v1/admin.grpc.pb.h> <strata/v1/delivery.grpc.pb.h>
    <strata/v1/storage.pb.h> <CLI/CLI.hpp>)
  target_link_libraries(strata_lib_pch PRIVATE CLI11::CLI11)
endfunction()

# strata_use_lib_pch(<target> ...): compile these targets against it.
function(strata_use_lib_pch)
  if(NOT STRATA_LIB_PCH)
    return()
  endif()
  foreach(t ${ARGN})
    target_precompile_headers(${t} REUSE_FROM strata_lib_pch)
    # The header was compiled with gRPC's -pthread (_REENTRANT); a target
    # without gRPC (server_core, server_storage) must match it to use it.
    target_compile_options(${t} PRIVATE -pthread)
  endforeach()
endfunction()

# strata_skip_lib_pch(<folder> <source> ...): these files compile without
# it (for GCC's false warnings through a precompiled header).
function(strata_skip_lib_pch folder)
  list(TRANSFORM ARGN PREPEND ${CMAKE_SOURCE_DIR}/${folder}/)
  set_source_files_properties(${ARGN} DIRECTORY ${CMAKE_SOURCE_DIR}/${folder}
                              PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
endfunction()
