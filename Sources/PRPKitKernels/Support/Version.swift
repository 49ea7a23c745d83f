import _PRPKitVersion

/// prpkit's version, read from the C header's PRPKIT_VERSION_* macros (the one place the
/// number is written).
public enum PRPKitVersion {
    public static let major = Int(_prpkit_version_major)
    public static let minor = Int(_prpkit_version_minor)
    public static let patch = Int(_prpkit_version_patch)
    /// "MAJOR.MINOR.PATCH".
    public static let string = String(cString: _prpkit_version_string())
}
