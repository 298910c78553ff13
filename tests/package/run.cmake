# The package test (cmake -P): builds and runs tests/package as a user would.
#   MODE=install   cmake --install the tested build into a fresh prefix, then
#                  find_package(gort CONFIG REQUIRED) against that prefix only
#   MODE=subdir    add_subdirectory() of the source checkout
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
  if(code MATCHES "Boost|fmt|libdw|elfutils")
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
  foreach(f include/gort/gort.hpp include/gort/runtime.hpp)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "package test: ${f} was not installed")
    endif()
  endforeach()
  file(GLOB_RECURSE config ${prefix}/*/gortConfig.cmake)
  file(GLOB_RECURSE archive ${prefix}/*/libgort.a)
  if(NOT config OR NOT archive)
    message(FATAL_ERROR "package test: gortConfig.cmake or libgort.a missing under ${prefix}")
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
message(STATUS "package test (${MODE}): passed")
