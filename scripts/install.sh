#!/usr/bin/env bash
# Installs prpkit for C/C++ consumers under PREFIX (relocatable: no absolute path inside):
#   PREFIX/include/prpkit.h
#   PREFIX/lib/libprpkit.so.X.Y.Z, libprpkit.so.SOVER -> it (the SONAME), libprpkit.so -> that
#   PREFIX/lib/pkgconfig/prpkit.pc                        (prefix from ${pcfiledir})
#   PREFIX/lib/cmake/prpkit/prpkitConfig.cmake, prpkitConfigVersion.cmake
#                                                         (imported target prpkit::prpkit)
#   PREFIX/share/prpkit/install_manifest.txt              (what scripts/uninstall.sh removes)
# The library is built (release, self-contained) by scripts/build_lib.sh, or taken as is
# when PRPKIT_LIBRARY names an already built libprpkit.so.
# Usage: scripts/install.sh PREFIX
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/install.sh PREFIX" >&2; exit 2; }
mkdir -p "$1"
PREFIX=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

LIB=${PRPKIT_LIBRARY:-$(bash scripts/build_lib.sh | tail -n 1)}
VERSION=$(bash scripts/version.sh)
SONAME=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case "$SONAME" in libprpkit.so.*) ;; *) echo "install: $LIB has SONAME '$SONAME'" >&2; exit 1 ;; esac

install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake/prpkit" "$PREFIX/share/prpkit"
install -m 644 include/prpkit.h "$PREFIX/include/prpkit.h"
install -m 755 "$LIB" "$PREFIX/lib/libprpkit.so.$VERSION"
ln -sfn "libprpkit.so.$VERSION" "$PREFIX/lib/$SONAME"
ln -sfn "$SONAME" "$PREFIX/lib/libprpkit.so"

cat > "$PREFIX/lib/pkgconfig/prpkit.pc" <<PC
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: prpkit
Description: Prototype Relevance Propagation and composite LRP heatmaps (C ABI of prpkit)
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -lprpkit
PC

cat > "$PREFIX/lib/cmake/prpkit/prpkitConfig.cmake" <<CMAKE
# prpkit's CMake package: find_package(prpkit) defines the imported target prpkit::prpkit
# (the shared library libprpkit.so and the header prpkit.h). Paths are relative to this
# file, so the installed tree can be moved.
get_filename_component(_prpkit_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET prpkit::prpkit)
  add_library(prpkit::prpkit SHARED IMPORTED)
  set_target_properties(prpkit::prpkit PROPERTIES
    IMPORTED_LOCATION "\${_prpkit_prefix}/lib/libprpkit.so.$VERSION"
    IMPORTED_SONAME "$SONAME"
    INTERFACE_INCLUDE_DIRECTORIES "\${_prpkit_prefix}/include")
endif()
set(prpkit_INCLUDE_DIRS "\${_prpkit_prefix}/include")
set(prpkit_LIBRARIES prpkit::prpkit)
unset(_prpkit_prefix)
CMAKE

cat > "$PREFIX/lib/cmake/prpkit/prpkitConfigVersion.cmake" <<CMAKE
# Compatible with a request for the same ABI (the SONAME's: same major version, and the
# same minor while the major is 0) that is not newer than $VERSION.
set(PACKAGE_VERSION "$VERSION")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(PACKAGE_FIND_VERSION_MAJOR EQUAL "${VERSION%%.*}" AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  if(NOT PACKAGE_FIND_VERSION_MAJOR EQUAL 0 OR PACKAGE_FIND_VERSION_MINOR EQUAL "$(echo "$VERSION" | cut -d. -f2)")
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
endif()
if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
if(NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
CMAKE

MANIFEST="$PREFIX/share/prpkit/install_manifest.txt"
{
    echo "# Installed by prpkit $VERSION's scripts/install.sh; paths relative to the prefix."
    echo "include/prpkit.h"
    echo "lib/libprpkit.so.$VERSION"
    echo "lib/$SONAME"
    echo "lib/libprpkit.so"
    echo "lib/pkgconfig/prpkit.pc"
    echo "lib/cmake/prpkit/prpkitConfig.cmake"
    echo "lib/cmake/prpkit/prpkitConfigVersion.cmake"
    echo "share/prpkit/install_manifest.txt"
} > "$MANIFEST"
echo "install: prpkit $VERSION in $PREFIX ($(grep -vc '^#' "$MANIFEST") files, listed in share/prpkit/install_manifest.txt)" >&2
