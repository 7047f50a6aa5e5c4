// Everything is `static inline` in include/CLakeSupport.h; SwiftPM needs one source file.
#include "CLakeSupport.h"
