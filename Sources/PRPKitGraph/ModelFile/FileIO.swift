#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and writes with POSIX calls (no Foundation in the shipped library).
/// Failures are `PRPKitError.io` naming the path and the system's reason.
package enum FileIO {
    static package func reason() -> String { String(cString: strerror(errno)) }

    /// An open descriptor of a regular file and its size (the caller closes it).
    static package func openRegular(path: String) throws -> (fd: Int32, size: Int) {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is rejected below).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw PRPKitError.io("cannot open '\(path)' for reading: \(reason())") }
        var info = stat()
        guard fstat(fd, &info) == 0 else { close(fd); throw PRPKitError.io("cannot stat '\(path)': \(reason())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { close(fd); throw PRPKitError.io("'\(path)' is not a regular file") }
        return (fd, Int(info.st_size))
    }

    static package func readAll(path: String) throws -> [UInt8] {
        let (fd, size) = try openRegular(path: path)
        defer { close(fd) }
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

    /// What kind of file `mode` describes, for messages.
    static package func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// `path` with symbolic links in its last component followed (at most 40 hops, as
    /// the kernel allows); a dangling link yields the path it names.
    static package func followLinks(_ path: String) throws -> String {
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, buffer.count - 1)
            guard n >= 0 else { throw PRPKitError.io("cannot read the symbolic link '\(current)': \(reason())") }
            let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : directory(of: current) + "/" + target
        }
        throw PRPKitError.io("'\(path)': too many levels of symbolic links")
    }

    static package func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Maps a whole regular file read-only into memory (private, copy-on-write). Nothing is
    /// read until a page is touched, and untouched or released pages cost no memory.
    /// nil for an empty file (nothing to map).
    static package func map(path: String) throws -> MappedFile? {
        let (fd, size) = try openRegular(path: path)
        defer { close(fd) }
        if size == 0 { return nil }
        // Writable but private: a stray write could only change this process's copy.
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw PRPKitError.io("cannot map '\(path)': \(reason())")
        }
        return MappedFile(base: base, size: size)
    }

    /// Writes to a new temporary file beside the target, then renames it over the target,
    /// so that a failed write never leaves a half-written model behind. A symbolic link
    /// at `path` is written through (the file it names is replaced, the link stays);
    /// anything at the target that is not a regular file (directory, device, FIFO,
    /// socket) is refused, never replaced. An existing file keeps its permissions.
    static package func writeAll(_ bytes: [UInt8], path: String) throws {
        guard !path.isEmpty else { throw PRPKitError.io("cannot write: the path is empty") }
        let target = try followLinks(path)
        let shown = target == path ? "'\(path)'" : "'\(path)' (→ '\(target)')"
        var info = stat()
        var keepMode: mode_t? = nil
        if lstat(target, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw PRPKitError.io("cannot write \(shown): it is \(kind(info.st_mode)), not a regular file; refusing to replace it")
            }
            keepMode = info.st_mode & 0o7777
        } else if errno != ENOENT {
            throw PRPKitError.io("cannot write \(shown): \(reason())")
        }
        let name = target.split(separator: "/").last.map(String.init) ?? target
        var temporary = ""
        var fd: Int32 = -1
        // O_EXCL | O_NOFOLLOW: the temporary is always a new file of ours, never
        // something an attacker planted under a guessable name.
        for _ in 0..<16 {
            temporary = directory(of: target) + "/.\(name).tmp-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw PRPKitError.io("cannot create a temporary file beside \(shown): \(reason())") }
        var failure: String? = nil
        if let keepMode, fchmod(fd, keepMode) != 0 { failure = "cannot set the permissions of '\(temporary)': \(reason())" }
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while failure == nil && done < buffer.count {
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
        if failure == nil && rename(temporary, target) != 0 { failure = "cannot rename '\(temporary)' to \(shown): \(reason())" }
        if let failure {
            unlink(temporary)
            throw PRPKitError.io(failure)
        }
    }
}

/// A file mapped into memory, unmapped when the last tensor borrowing from it goes away.
final package class MappedFile: @unchecked Sendable {
    package let base: UnsafeMutableRawPointer
    package let size: Int

    package init(base: UnsafeMutableRawPointer, size: Int) { self.base = base; self.size = size }

    deinit { munmap(base, size) }

    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// Gives every resident page of the file back to the system (see
    /// `TensorStorage.releaseResidentPages`): the next read of any page brings the same
    /// bytes in again from the file.
    package func releaseResidentPages() {
        madvise(base, size, MADV_DONTNEED)
    }

    /// `releaseResidentPages` of every distinct file among `tensors`' mappings.
    package static func releaseResidentPages(of tensors: [Tensor]) {
        var seen = Set<ObjectIdentifier>()
        for t in tensors {
            guard let file = t.storage.mapping as? MappedFile, seen.insert(ObjectIdentifier(file)).inserted else { continue }
            file.releaseResidentPages()
        }
    }
}

extension FileIO {
    /// The size in bytes of the file at `path` (links followed).
    static package func size(path: String) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw PRPKitError.io("cannot stat '\(path)': \(reason())") }
        return Int(info.st_size)
    }

    /// `path` made absolute against the working directory and normalised lexically
    /// ("." and ".." components and repeated slashes removed; links are not resolved), as
    /// Python's os.path.abspath does, so that both command lines print the same path.
    static package func absolute(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                full = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
            }
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/") where part != "." {
            if part == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }
}
