// The version of prpkit, as written once in include/prpkit.h (PRPKIT_VERSION_*), made
// visible to Swift (PRPKit's `PRPKitVersion`). Not part of the C ABI.
#ifndef PRPKIT_VERSION_H
#define PRPKIT_VERSION_H

extern const int _prpkit_version_major;
extern const int _prpkit_version_minor;
extern const int _prpkit_version_patch;
/// "MAJOR.MINOR.PATCH" (static storage).
const char* _prpkit_version_string(void);

#endif
