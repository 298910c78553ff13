// gort: goroutine semantics for C++20. The one header users include.
#pragma once

#include "gort/runtime.hpp"
#include "gort/sync.hpp"
#if __has_include("gort/chan.hpp")
#include "gort/chan.hpp"
#endif
#if __has_include("gort/select.hpp")
#include "gort/select.hpp"
#endif
#if __has_include("gort/time.hpp")
#include "gort/time.hpp"
#endif
