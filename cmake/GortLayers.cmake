# gort's layers, as build targets (see docs/architecture.md, "Layers").
#
#         context/            context, errgroup, os/signal
#        /     |     \
#   channel/  sync/  net/     the Go packages users see
#        \     |     /
#         runtime/            fibers, park/ready, timers, netpoller, reports
#            |
#         scheduler/          run queues, idle workers, futex parking
#
# Each layer is an OBJECT library, gort_<layer>, compiled with an include
# path that holds only what it may use:
#   - its own public headers (<layer>/include) and those of the layers below;
#   - its own private headers, as "<layer>/x.hpp";
#   - of each layer below, only the private headers that layer EXPORTS to the
#     layers above it, as "<lower>/x.hpp".
# The include path is a folder of symbolic links in the build tree
# (gort-layers/<layer>/), so an upward #include, or one into a lower layer's
# private header, fails to compile ("No such file or directory"). The
# objects of every layer make up the one static library gort::gort.

set(GORT_LAYERS "")

# gort_layer(<name> [DEPENDS <lower layers>] [EXPORTS <headers of <name>/>])
function(gort_layer name)
  cmake_parse_arguments(L "" "" "DEPENDS;EXPORTS" ${ARGN})
  set(src ${PROJECT_SOURCE_DIR}/${name})
  set(view ${PROJECT_BINARY_DIR}/gort-layers/${name})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  file(CREATE_LINK ${src} ${view}/${name} SYMBOLIC)

  # Everything below, transitively, in dependency order.
  set(below "")
  foreach(dep IN LISTS L_DEPENDS)
    list(APPEND below ${GORT_LAYER_${dep}_BELOW} ${dep})
  endforeach()
  list(REMOVE_DUPLICATES below)

  file(GLOB sources CONFIGURE_DEPENDS ${src}/*.cpp)
  add_library(gort_${name} OBJECT ${sources})
  target_compile_features(gort_${name} PUBLIC cxx_std_20)
  set_target_properties(gort_${name} PROPERTIES CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
  target_include_directories(gort_${name} PRIVATE ${view})
  if(EXISTS ${src}/include)
    target_include_directories(gort_${name} PRIVATE ${src}/include)
  endif()
  foreach(dep IN LISTS below)
    set(dep_src ${PROJECT_SOURCE_DIR}/${dep})
    if(EXISTS ${dep_src}/include)
      target_include_directories(gort_${name} PRIVATE ${dep_src}/include)
    endif()
    foreach(h IN LISTS GORT_LAYER_${dep}_EXPORTS)
      get_filename_component(dir ${view}/${dep}/${h} DIRECTORY)
      file(MAKE_DIRECTORY ${dir})
      file(CREATE_LINK ${dep_src}/${h} ${view}/${dep}/${h} SYMBOLIC)
    endforeach()
  endforeach()
  target_link_libraries(gort_${name} PRIVATE ${GORT_LAYER_LIBS})
  if(DEFINED GORT_LAYER_SANITIZE_FLAGS)
    target_compile_options(gort_${name} PRIVATE ${GORT_WARNINGS} ${GORT_LAYER_SANITIZE_FLAGS})
  else()
    target_compile_options(gort_${name} PRIVATE ${GORT_WARNINGS} ${GORT_SANITIZE_FLAGS})
  endif()

  set(GORT_LAYER_${name}_BELOW ${below} PARENT_SCOPE)
  set(GORT_LAYER_${name}_EXPORTS ${L_EXPORTS} PARENT_SCOPE)
  set(GORT_LAYERS ${GORT_LAYERS} ${name} PARENT_SCOPE)
endfunction()
