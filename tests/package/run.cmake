# The package test (cmake -P): builds and runs tests/package as a user would.
#   MODE=install   cmake --install the tested build into a fresh prefix, then
#                  find_package(gort CONFIG REQUIRED) against that prefix only
#                  (CXX_COMPILER may be another compiler than the one that
#                  built gort: clang++ against a gcc-built package)
#   MODE=subdir    add_subdirectory() of the source checkout
# Both run `app` (fibers, channels, spawn: must print "ok") and `deadlock`
# (must exit 2 with a report naming the lines of deadlock.cpp it printed).
# Inputs (-D): MODE, GORT_SOURCE_DIR, GORT_BUILD_DIR, WORK_DIR, GENERATOR,
# CXX_COMPILER, BUILD_TYPE, LAUNCHER (may be empty).
cmake_minimum_required(VERSION 3.22)

foreach(v MODE GORT_SOURCE_DIR GORT_BUILD_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "package test: -D${v}=... is required")
  endif()
endforeach()
set(consumer ${GORT_SOURCE_DIR}/tests/package)

function(step what)
  message(STATUS "package test: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: ${what} failed (${rc})")
  endif()
endfunction()

# The consumer's CMakeLists must not name gort's private dependencies: that is
# the property under test (docs/api.md, "Building and linking": a project "never has to
# name them").
file(STRINGS ${consumer}/CMakeLists.txt lines)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "#.*" "" code "${line}")
  if(code MATCHES "Boost|fmt|http_parser|libdw|elfutils")
    message(FATAL_ERROR "package test: the consumer names a private dependency: ${line}")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
set(common_args -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON)
if(BUILD_TYPE)
  list(APPEND common_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(LAUNCHER)
  list(APPEND common_args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()

if(MODE STREQUAL "install")
  set(prefix ${WORK_DIR}/prefix)
  step("install into ${prefix}" ${CMAKE_COMMAND} --install ${GORT_BUILD_DIR} --prefix ${prefix})
  foreach(f include/gort/gort.hpp include/gort/runtime.hpp include/gort/debug.hpp)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "package test: ${f} was not installed")
    endif()
  endforeach()
  file(GLOB_RECURSE config ${prefix}/*/gortConfig.cmake)
  file(GLOB_RECURSE archive ${prefix}/*/libgort.a)
  file(GLOB_RECURSE debug_archive ${prefix}/*/libgort_debug.a)
  if(NOT config OR NOT archive OR NOT debug_archive)
    message(FATAL_ERROR "package test: gortConfig.cmake, libgort.a or libgort_debug.a missing under ${prefix}")
  endif()
  # gort::gort alone must not pull in gort::debug's HTTP parser.
  file(GLOB_RECURSE targets ${prefix}/*/gortTargets.cmake)
  file(READ ${targets} targets_text)
  string(REGEX MATCH "set_target_properties\\(gort::gort PROPERTIES[^)]*\\)" gort_props "${targets_text}")
  if(NOT gort_props OR gort_props MATCHES "http_parser")
    message(FATAL_ERROR "package test: gort::gort links the HTTP parser (or was not found): ${gort_props}")
  endif()
  # Installed headers may include only other installed headers and the system's.
  file(GLOB_RECURSE headers ${prefix}/include/gort/*)
  foreach(h IN LISTS headers)
    file(STRINGS ${h} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(inc IN LISTS includes)
      string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" name "${inc}")
      get_filename_component(here ${h} DIRECTORY)
      if(NOT EXISTS ${prefix}/include/${name} AND NOT EXISTS ${here}/${name})
        message(FATAL_ERROR "package test: installed ${h} includes \"${name}\", which is not installed")
      endif()
    endforeach()
  endforeach()
  set(build ${WORK_DIR}/build)
  step("configure the consumer with find_package"
    ${CMAKE_COMMAND} -S ${consumer} -B ${build} ${common_args} -DCMAKE_PREFIX_PATH=${prefix})
  # find_package must have found the fresh prefix, not some other gort.
  file(STRINGS ${build}/CMakeCache.txt dir_line REGEX "^gort_DIR:")
  string(REGEX REPLACE "^gort_DIR:[A-Z]+=" "" found "${dir_line}")
  file(REAL_PATH ${found} found)
  file(REAL_PATH ${prefix} real_prefix)
  string(FIND "${found}" "${real_prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "package test: found gort in ${found}, not in ${real_prefix}")
  endif()
elseif(MODE STREQUAL "subdir")
  set(build ${WORK_DIR}/build)
  step("configure the consumer with add_subdirectory"
    ${CMAKE_COMMAND} -S ${consumer} -B ${build} ${common_args} -DGORT_SOURCE_DIR=${GORT_SOURCE_DIR})
else()
  message(FATAL_ERROR "package test: MODE must be install or subdir, not \"${MODE}\"")
endif()

step("build the consumer" ${CMAKE_COMMAND} --build ${build} --parallel 2)
execute_process(COMMAND ${build}/app RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "package test: app printed: ${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "package consumer: ok")
  message(FATAL_ERROR "package test: the consumer failed (exit ${rc})")
endif()
execute_process(COMMAND ${build}/app_debug RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "package test: app_debug printed: ${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "package debug consumer: ok")
  message(FATAL_ERROR "package test: the gort::debug consumer failed (exit ${rc})")
endif()

execute_process(COMMAND ${build}/deadlock RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message(STATUS "package test: deadlock printed:\n${out}${err}")
string(REGEX MATCH "block ([^\n]+)\n" m "${out}")
set(block "${CMAKE_MATCH_1}")
string(REGEX MATCH "created ([^\n]+)\n" m "${out}")
set(created "${CMAKE_MATCH_1}")
if(NOT rc EQUAL 2 OR block STREQUAL "" OR created STREQUAL "")
  message(FATAL_ERROR "package test: deadlock exited ${rc} (want 2), or did not print its lines")
endif()
# Each fiber's block: its state line, then its call stack (function names,
# each followed by a tab-indented file:line), then where it was created.
foreach(want "fatal error: all goroutines are asleep - deadlock!\n"
    "goroutine 1 [chan receive]:\n" "\t${block}\n" "created by goroutine 1 at ${created}\n")
  string(FIND "${err}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "package test: the deadlock report lacks \"${want}\"")
  endif()
endforeach()
message(STATUS "package test (${MODE}, ${CXX_COMPILER}): passed")
