// Compiled with the channel layer's include path by the `layering.*` tests:
// what the layers below export, and the public headers, must compile (the
// control for the two probes that must not).
#include "gort/chan.hpp"
#include "runtime/park.hpp"
#include "runtime/timer.hpp"
#include "scheduler/futex.hpp"
