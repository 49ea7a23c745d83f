/// A float32 buffer, 64-byte aligned so that kernels can use aligned full-width vector
/// loads on the first element. Either owned (freed on deinit) or borrowed from a caller
/// (the C ABI wraps caller buffers without copying; the caller keeps them alive for the
/// duration of the call).
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// False for borrowed caller memory (never written by prpkit).
    public let owned: Bool

    /// Allocates `count` floats, zero-filled unless `zeroed` is false (for kernels that
    /// write every element). Large buffers come from `TensorPool`.
    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        pointer = TensorPool.take(count)
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
        owned = true
    }

    /// Borrows `count` floats at `pointer`; nothing is copied or freed.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int) {
        self.pointer = pointer
        self.count = count
        owned = false
    }

    deinit {
        if owned { TensorPool.give(pointer, count: count) }
    }
}
