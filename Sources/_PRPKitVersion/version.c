// Reads the version macros from the public header itself, so that the number is written
// in one place (include/prpkit.h) for C, Swift, Python, pkg-config and CMake.
#include "../../include/prpkit.h"
#include "prpkit_version.h"

#define PRPKIT_STRINGIFY_(x) #x
#define PRPKIT_STRINGIFY(x) PRPKIT_STRINGIFY_(x)

const int _prpkit_version_major = PRPKIT_VERSION_MAJOR;
const int _prpkit_version_minor = PRPKIT_VERSION_MINOR;
const int _prpkit_version_patch = PRPKIT_VERSION_PATCH;
const char* _prpkit_version_string(void) {
    return PRPKIT_STRINGIFY(PRPKIT_VERSION_MAJOR) "." PRPKIT_STRINGIFY(PRPKIT_VERSION_MINOR) "." PRPKIT_STRINGIFY(
        PRPKIT_VERSION_PATCH);
}
