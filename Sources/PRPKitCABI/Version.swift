#if canImport(Glibc)
import Glibc
#endif

import PRPKit

/// The library version: PRPKIT_VERSION_* of include/prpkit.h, through PRPKitVersion.
enum LibraryVersion {
    static let major = Int32(PRPKitVersion.major)
    static let minor = Int32(PRPKitVersion.minor)
    static let patch = Int32(PRPKitVersion.patch)
    static let string: UnsafeMutablePointer<CChar> = strdup(PRPKitVersion.string)!
}

@_cdecl("prpkit_version")
public func prpkit_version(_ major: UnsafeMutablePointer<Int32>?, _ minor: UnsafeMutablePointer<Int32>?,
                           _ patch: UnsafeMutablePointer<Int32>?) -> Int32 {
    major?.pointee = LibraryVersion.major
    minor?.pointee = LibraryVersion.minor
    patch?.pointee = LibraryVersion.patch
    return 0
}

@_cdecl("prpkit_version_string")
public func prpkit_version_string() -> UnsafePointer<CChar> {
    UnsafePointer(LibraryVersion.string)
}
