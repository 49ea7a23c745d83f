#if canImport(Glibc)
import Glibc
#endif

/// Reuses large tensor buffers. A network allocates the same activation sizes on every
/// forward and backward pass; fresh multi-megabyte allocations come back from the kernel
/// as new pages and fault on first touch, which costs as much as a small conv layer.
///
/// Bounds (so that the pool never makes the process bigger than its work needs):
/// - buffers of at least `minimumFloats` are mapped and unmapped directly (mmap), so a
///   released buffer leaves the process at once — malloc would keep it in its heap;
/// - idle buffers are kept by exact (page-rounded) size, and the pool's total (buffers in
///   use + idle) never exceeds the high-water mark of the buffers in use: when a new size
///   is needed, idle buffers of other sizes are unmapped first;
/// - after `idleSeconds` without any allocation or release, every idle buffer is unmapped
///   (a janitor thread, started on first use) and the high-water mark starts over.
/// Thread-safe.
package enum TensorPool {
    static package let minimumFloats = 1 << 14          // 64 KiB
    static package let idleSeconds = 2.0
    nonisolated(unsafe) private static var idle: [Int: [UnsafeMutablePointer<Float>]] = [:]
    /// Idle buffers, oldest first (capacity in floats), for eviction in age order.
    nonisolated(unsafe) private static var idleOrder: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    nonisolated(unsafe) private static var idleBytes = 0
    nonisolated(unsafe) private static var liveBytes = 0
    nonisolated(unsafe) private static var highWater = 0
    /// Bytes mapped so far (fresh pages, each faulted in on first touch): the pool's churn.
    nonisolated(unsafe) private static var mappedTotal = 0
    nonisolated(unsafe) private static var lastUse = 0.0
    nonisolated(unsafe) private static var janitorRunning = false
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        pthread_atfork(nil, nil, {
            // The child has no janitor thread and may inherit the lock mid-update.
            pthread_mutex_init(TensorPool.lock, nil)
            TensorPool.janitorRunning = false
        })
        return m
    }()

    /// The capacity actually allocated for `count` floats: whole 4 KiB pages for pooled
    /// sizes, whole 64-byte lines below (a model's many small biases must not take a page
    /// each: a file of tiny tensors would need 100× its size).
    static package func capacity(_ count: Int) -> Int {
        count < minimumFloats ? (max(count, 1) + 15) & ~15 : (count + 1023) & ~1023
    }

    static package func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static package func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let cap = capacity(count)
        if cap < minimumFloats {
            return UnsafeMutableRawPointer.allocate(byteCount: cap * 4, alignment: 64).bindMemory(to: Float.self, capacity: cap)
        }
        let bytes = cap * 4
        var evicted: [(UnsafeMutablePointer<Float>, Int)] = []
        pthread_mutex_lock(lock)
        lastUse = now()
        let hit = idle[cap]?.popLast()
        if let hit {
            idleBytes -= bytes
            idleOrder.removeAll { $0.pointer == hit }
        } else {
            // Stay within the high-water mark: make room from idle buffers of other sizes.
            while liveBytes + idleBytes + bytes > highWater, !idleOrder.isEmpty {
                let old = idleOrder.removeFirst()
                idle[old.capacity]!.removeAll { $0 == old.pointer }
                idleBytes -= old.capacity * 4
                evicted.append((old.pointer, old.capacity))
            }
        }
        liveBytes += bytes
        highWater = max(highWater, liveBytes + idleBytes)
        if hit == nil { mappedTotal += bytes }
        pthread_mutex_unlock(lock)
        for (p, c) in evicted { unmap(p, capacity: c) }
        return hit ?? map(capacity: cap)
    }

    static package func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let cap = capacity(count)
        if cap < minimumFloats {
            UnsafeMutableRawPointer(pointer).deallocate()
            return
        }
        pthread_mutex_lock(lock)
        lastUse = now()
        liveBytes -= cap * 4
        idle[cap, default: []].append(pointer)
        idleOrder.append((pointer, cap))
        idleBytes += cap * 4
        let startJanitor = !janitorRunning
        janitorRunning = true
        pthread_mutex_unlock(lock)
        if startJanitor { startJanitorThread() }
    }

    /// Unmaps every idle buffer now and resets the high-water mark.
    static package func releaseIdle() {
        pthread_mutex_lock(lock)
        let all = idleOrder
        idle.removeAll(); idleOrder.removeAll(); idleBytes = 0
        highWater = liveBytes
        pthread_mutex_unlock(lock)
        for (p, c) in all { unmap(p, capacity: c) }
    }

    /// (bytes in use, bytes idle, high-water mark) of pool-sized buffers.
    static package var usage: (live: Int, idle: Int, highWater: Int) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return (liveBytes, idleBytes, highWater)
    }

    /// Bytes of fresh mappings made so far (every take that no idle buffer served).
    static package var mappedBytes: Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return mappedTotal
    }

    private static func map(capacity: Int) -> UnsafeMutablePointer<Float> {
        guard let p = mmap(nil, capacity * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            // As the system allocator does when memory runs out.
            fatalError("prpkit: out of memory (mapping \(capacity * 4) bytes failed: \(String(cString: strerror(errno))))")
        }
        return p.bindMemory(to: Float.self, capacity: capacity)
    }

    private static func unmap(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        munmap(UnsafeMutableRawPointer(pointer), capacity * 4)
    }

    /// Unmaps the idle buffers once the pool has been untouched for `idleSeconds`; exits
    /// when nothing is idle (the next release starts it again).
    private static func startJanitorThread() {
        let started = startDetachedThread(stackBytes: 1 << 16) {
            while true {
                usleep(UInt32(TensorPool.idleSeconds * 250_000))
                pthread_mutex_lock(TensorPool.lock)
                let quiet = TensorPool.now() - TensorPool.lastUse >= TensorPool.idleSeconds
                let done = TensorPool.idleBytes == 0
                if done { TensorPool.janitorRunning = false }
                pthread_mutex_unlock(TensorPool.lock)
                if done { return }
                if quiet { TensorPool.releaseIdle() }
            }
        }
        if !started {
            pthread_mutex_lock(lock)
            janitorRunning = false
            pthread_mutex_unlock(lock)
        }
    }
}
