#if canImport(Glibc)
import Glibc
#endif

/// Reuses large tensor buffers. A network allocates the same activation sizes on every
/// forward and backward pass; fresh multi-megabyte allocations come back from the kernel
/// as new pages and fault on first touch, which costs as much as a small conv layer.
/// Buffers of at least `minimumFloats` are kept by exact (page-rounded) size, up to
/// `maximumIdleBytes` in total. Thread-safe.
enum TensorPool {
    static let minimumFloats = 1 << 14          // 64 KiB
    static let maximumIdleBytes = 768 << 20     // 768 MiB of idle buffers at most
    nonisolated(unsafe) private static var idle: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var idleBytes = 0
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    /// The capacity actually allocated for `count` floats: whole 4 KiB pages for pooled
    /// sizes, whole 64-byte lines below (a model's many small biases must not take a page
    /// each: a file of tiny tensors would need 100× its size).
    static func capacity(_ count: Int) -> Int {
        count < minimumFloats ? (max(count, 1) + 15) & ~15 : (count + 1023) & ~1023
    }

    static func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let cap = capacity(count)
        if cap >= minimumFloats {
            pthread_mutex_lock(lock)
            let hit = idle[cap]?.popLast()
            if hit != nil { idleBytes -= cap * 4 }
            pthread_mutex_unlock(lock)
            if let hit { return hit }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: cap * 4, alignment: 64).bindMemory(to: Float.self, capacity: cap)
    }

    static func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let cap = capacity(count)
        if cap >= minimumFloats {
            pthread_mutex_lock(lock)
            let keep = idleBytes + cap * 4 <= maximumIdleBytes
            if keep { idle[cap, default: []].append(pointer); idleBytes += cap * 4 }
            pthread_mutex_unlock(lock)
            if keep { return }
        }
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}
