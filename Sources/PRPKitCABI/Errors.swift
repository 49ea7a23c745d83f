#if canImport(Glibc)
import Glibc
#endif
import PRPKit

/// Status codes of include/prpkit.h.
enum Status {
    static let ok: Int32 = 0
    static let invalidArgument: Int32 = 1
    static let invalidModel: Int32 = 2
    static let unsupported: Int32 = 3
    static let io: Int32 = 4
    static let bufferTooSmall: Int32 = 5
    static let `internal`: Int32 = 6
}

/// An error raised by the ABI layer itself, carrying its status code.
struct ABIError: Error {
    let code: Int32
    let message: String
    static func invalidArgument(_ m: String) -> ABIError { ABIError(code: Status.invalidArgument, message: m) }
    static func bufferTooSmall(_ m: String) -> ABIError { ABIError(code: Status.bufferTooSmall, message: m) }
    static func unsupported(_ m: String) -> ABIError { ABIError(code: Status.unsupported, message: m) }
}

/// Per-thread storage of the last error message (a malloc'ed C string, freed when the
/// thread exits or the next error replaces it).
private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private let emptyString: UnsafeMutablePointer<CChar> = strdup("")!

func setLastError(_ message: String) {
    let old = pthread_getspecific(lastErrorKey)
    pthread_setspecific(lastErrorKey, strdup(message))
    free(old)
}

/// Runs an ABI entry point: maps every thrown error to its status code and records the
/// message for prpkit_last_error().
func guarded(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Status.ok
    } catch let e as ABIError {
        setLastError(e.message)
        return e.code
    } catch let e as PRPKitError {
        setLastError(e.message)
        switch e {
        case .invalidArgument: return Status.invalidArgument
        case .invalidModel: return Status.invalidModel
        case .unsupported: return Status.unsupported
        case .io: return Status.io
        }
    } catch {
        setLastError("internal error: \(error)")
        return Status.internal
    }
}

/// Throws INVALID_ARGUMENT when a required pointer is NULL.
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw ABIError.invalidArgument("\(name) must not be NULL") }
    return pointer
}

@_cdecl("prpkit_last_error")
public func prpkit_last_error() -> UnsafePointer<CChar> {
    guard let p = pthread_getspecific(lastErrorKey) else { return UnsafePointer(emptyString) }
    return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
}

private let statusNames: [UnsafeMutablePointer<CChar>] = ([
    "PRPKIT_OK", "PRPKIT_ERROR_INVALID_ARGUMENT", "PRPKIT_ERROR_INVALID_MODEL", "PRPKIT_ERROR_UNSUPPORTED",
    "PRPKIT_ERROR_IO", "PRPKIT_ERROR_BUFFER_TOO_SMALL", "PRPKIT_ERROR_INTERNAL", "PRPKIT_UNKNOWN_STATUS",
] as [String]).map { strdup($0)! }

@_cdecl("prpkit_status_string")
public func prpkit_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    let i = status >= 0 && status < Int32(statusNames.count - 1) ? Int(status) : statusNames.count - 1
    return UnsafePointer(statusNames[i])
}
