// Compiled with the runtime layer's include path by the `layering.*` tests:
// the runtime must not see the channel layer (an upward #include), so this
// must fail to compile.
#include "channel/chan_impl.hpp"
