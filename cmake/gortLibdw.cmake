# elfutils' libdw (libdwfl): unwinds and symbolizes the call stacks in gort's
# reports (runtime/traceback.hpp). Defines the imported target gort::libdw.
# Included by the build and by the installed gortConfig.cmake: gort is a
# static library, so its consumers link libdw too without naming it.
# Debian: libdw-dev (scripts/deps.sh installs it).
if(NOT TARGET gort::libdw)
  find_path(GORT_LIBDW_INCLUDE_DIR elfutils/libdwfl.h)
  find_library(GORT_LIBDW_LIBRARY dw)
  if(GORT_LIBDW_INCLUDE_DIR AND GORT_LIBDW_LIBRARY)
    add_library(gort::libdw INTERFACE IMPORTED)
    set_target_properties(gort::libdw PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${GORT_LIBDW_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${GORT_LIBDW_LIBRARY}")
  endif()
endif()
