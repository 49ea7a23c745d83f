#if canImport(Glibc)
import Glibc
#endif

/// A float32 buffer. Either owned (freed on deinit; 64-byte aligned, large ones page
/// aligned), borrowed from a caller (the C ABI wraps caller buffers without copying; the
/// caller keeps them alive for the duration of the call), or part of a memory-mapped
/// model file (kept mapped while the storage lives; at least 4-byte aligned).
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// False for borrowed caller memory and mapped files (never written by prpkit).
    public let owned: Bool
    /// The mapping the floats live in, if any.
    package let mapping: AnyObject?

    /// Allocates `count` floats, zero-filled unless `zeroed` is false (for kernels that
    /// write every element). Large buffers come from `TensorPool`.
    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        pointer = TensorPool.take(count)
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
        owned = true
        mapping = nil
    }

    /// Borrows `count` floats at `pointer`; nothing is copied or freed.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int) {
        self.pointer = pointer
        self.count = count
        owned = false
        mapping = nil
    }

    /// `count` floats at `pointer` inside `mapping`, which stays mapped while this lives.
    package init(mapped pointer: UnsafeMutablePointer<Float>, count: Int, mapping: AnyObject) {
        self.pointer = pointer
        self.count = count
        owned = false
        self.mapping = mapping
    }

    /// For a memory-mapped storage: gives its resident pages back to the system; the
    /// next read brings them in again from the file (same bytes). A hint for values that
    /// have been consumed (e.g. weights folded into others); no effect on other storages.
    /// The pages at either end, shared with neighbouring tensors of the file, go too: a
    /// mapped file is never written, so any of its pages can be dropped and read again.
    public func releaseResidentPages() {
        guard mapping != nil, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: pointer) / page * page
        let end = (Int(bitPattern: pointer + count) + page - 1) / page * page
        if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
    }

    deinit {
        if owned { TensorPool.give(pointer, count: count) }
    }
}
