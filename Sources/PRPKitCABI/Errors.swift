#if canImport(Glibc)
import Glibc
#endif
import CPRPKit
import PRPKit

/// Status codes, as include/prpkit.h defines them.
enum Status {
    static let ok = Int32(PRPKIT_OK)
    static let invalidArgument = Int32(PRPKIT_ERROR_INVALID_ARGUMENT)
    static let invalidModel = Int32(PRPKIT_ERROR_INVALID_MODEL)
    static let unsupported = Int32(PRPKIT_ERROR_UNSUPPORTED)
    static let io = Int32(PRPKIT_ERROR_IO)
    static let bufferTooSmall = Int32(PRPKIT_ERROR_BUFFER_TOO_SMALL)
    static let `internal` = Int32(PRPKIT_ERROR_INTERNAL)
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

/// Each status code's name (static C strings), keyed by the header's values.
private let statusNames: [Int32: UnsafeMutablePointer<CChar>] = ([
    Status.ok: "PRPKIT_OK", Status.invalidArgument: "PRPKIT_ERROR_INVALID_ARGUMENT",
    Status.invalidModel: "PRPKIT_ERROR_INVALID_MODEL", Status.unsupported: "PRPKIT_ERROR_UNSUPPORTED",
    Status.io: "PRPKIT_ERROR_IO", Status.bufferTooSmall: "PRPKIT_ERROR_BUFFER_TOO_SMALL",
    Status.internal: "PRPKIT_ERROR_INTERNAL",
] as [Int32: String]).mapValues { strdup($0)! }
private let unknownStatus: UnsafeMutablePointer<CChar> = strdup("PRPKIT_UNKNOWN_STATUS")!

@_cdecl("prpkit_status_string")
public func prpkit_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    UnsafePointer(statusNames[status] ?? unknownStatus)
}
