/* SwiftPM builds a C target from at least one source file; this one checks that the
 * header compiles as C on its own. */
#include "CPRPKit.h"
