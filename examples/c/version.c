/*
 * version.c — prints the header's version and the loaded library's, and checks they agree
 * (scripts/test_consumers.sh compares them with pkg-config and the Python package).
 * Output: "header X.Y.Z" and "library X.Y.Z"; exit status 1 if they differ.
 */
#include <stdio.h>
#include <string.h>

#include "prpkit.h"

int main(void) {
    int major = -1, minor = -1, patch = -1;
    prpkit_version(&major, &minor, &patch);
    char numbers[64];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", major, minor, patch);
    printf("header %d.%d.%d\n", PRPKIT_VERSION_MAJOR, PRPKIT_VERSION_MINOR, PRPKIT_VERSION_PATCH);
    printf("library %s\n", prpkit_version_string());
    int same = major == PRPKIT_VERSION_MAJOR && minor == PRPKIT_VERSION_MINOR && patch == PRPKIT_VERSION_PATCH &&
               strcmp(numbers, prpkit_version_string()) == 0;
    return same ? 0 : 1;
}
