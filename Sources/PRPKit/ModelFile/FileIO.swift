#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and writes with POSIX calls (no Foundation in the shipped library).
/// Failures are `PRPKitError.io` naming the path and the system's reason.
enum FileIO {
    static func reason() -> String { String(cString: strerror(errno)) }

    static func readAll(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PRPKitError.io("cannot open '\(path)' for reading: \(reason())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw PRPKitError.io("cannot stat '\(path)': \(reason())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw PRPKitError.io("'\(path)' is not a regular file") }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw PRPKitError.io("cannot read '\(path)': \(reason())")
                }
                if n == 0 { break }  // file shrank while reading
                done += n
            }
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }

    /// Writes to a temporary file beside `path`, then renames it over `path`, so that a
    /// failed write never leaves a half-written model behind.
    static func writeAll(_ bytes: [UInt8], path: String) throws {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PRPKitError.io("cannot open '\(temporary)' for writing: \(reason())") }
        var failure: String? = nil
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write '\(temporary)': \(reason())"
                    return
                }
                done += n
            }
        }
        if close(fd) != 0 && failure == nil { failure = "cannot close '\(temporary)': \(reason())" }
        if failure == nil && rename(temporary, path) != 0 { failure = "cannot rename '\(temporary)' to '\(path)': \(reason())" }
        if let failure {
            unlink(temporary)
            throw PRPKitError.io(failure)
        }
    }
}
