// Compiled with the channel layer's include path by the `layering.*` tests:
// the runtime's private headers (the runtime object, workers) are not part of
// what it exports to the layers above, so this must fail to compile.
#include "runtime/core.hpp"
