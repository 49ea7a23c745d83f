/// Every failure prpkit reports. Nothing in the library traps on bad input: each check
/// that can fail on user data throws one of these, and the C ABI maps the case to a
/// status code and the message to the thread-local last-error string.
public enum PRPKitError: Error, Equatable, CustomStringConvertible {
    /// A caller-supplied argument is out of range or inconsistent (shapes, sizes, options).
    case invalidArgument(String)
    /// A model file or graph description is malformed, truncated or inconsistent.
    case invalidModel(String)
    /// The request is well-formed but names an op, dtype or feature prpkit lacks.
    case unsupported(String)
    /// Reading or writing a file failed.
    case io(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .invalidModel(let m), .unsupported(let m), .io(let m): return m
        }
    }

    public var description: String { message }
}
