/* The C ABI's one header (include/prpkit.h) as a Clang module, so that Swift code can use
 * its real declarations and struct layouts instead of copies. */
#include "../../../include/prpkit.h"
