#if canImport(Glibc)
import Glibc
#endif

/// The library version; keep in step with PRPKIT_VERSION_* in include/prpkit.h.
enum LibraryVersion {
    static let major: Int32 = 0
    static let minor: Int32 = 1
    static let patch: Int32 = 0
    static let string: UnsafeMutablePointer<CChar> = strdup("\(major).\(minor).\(patch)")!
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
