// gort: goroutine semantics for C++20. The one header users include.
// Reference: docs/api.md.
#pragma once

#include "gort/blocking.hpp"
#include "gort/chan.hpp"
#include "gort/context.hpp"
#include "gort/errgroup.hpp"
#include "gort/net.hpp"
#include "gort/runtime.hpp"
#include "gort/select.hpp"
#include "gort/signal.hpp"
#include "gort/stats.hpp"
#include "gort/sync.hpp"
#include "gort/time.hpp"
