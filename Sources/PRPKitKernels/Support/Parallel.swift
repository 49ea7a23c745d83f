#if canImport(Glibc)
import Glibc
#endif

/// Splits work across the machine's cores. Kernels call `Parallel.forEach` with a count
/// of independent chunks; chunk `i` must touch memory no other chunk writes. Chunks run on
/// the persistent `WorkerPool`.
///
/// The worker count is a process-wide setting (`threadCount`'s setter, the C ABI's
/// `prpkit_set_num_threads`, the environment variable `PRPKIT_NUM_THREADS`) that a thread
/// may override for the calls it makes (`withThreadCount`, `threadOverride`): that is how a
/// per-call thread count reaches every kernel of one call without touching other threads.
/// Results never depend on which worker ran a chunk, only on how the kernels split the work
/// for the thread count they see.
public enum Parallel {
    nonisolated(unsafe) private static var processThreadCount: Int = defaultThreadCount()

    /// Worker count seen by kernels on the calling thread: its override when set, else the
    /// process-wide count. Setting it changes the process-wide count (≥ 1).
    public static var threadCount: Int {
        get {
            let local = threadOverride
            return local > 0 ? local : processThreadCount
        }
        set { processThreadCount = max(1, newValue) }
    }

    /// `PRPKIT_NUM_THREADS` when it holds a positive integer, else the online core count.
    public static func defaultThreadCount() -> Int {
        if let env = getenv("PRPKIT_NUM_THREADS"), let n = Int(String(cString: env)), n > 0 {
            return min(n, maximumThreads)
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Largest accepted thread count (a guard against absurd requests, not a tuning knob).
    public static let maximumThreads = 1024

    // Per-thread state in one pthread key: bits 0…31 the override (0 = none), bit 32 set
    // while the thread runs chunks of a loop.
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()
    private static var threadBits: Int {
        get { Int(bitPattern: pthread_getspecific(key)) }
        set { pthread_setspecific(key, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// The calling thread's thread-count override; 0 = none (use the process-wide count).
    public static var threadOverride: Int {
        get { threadBits & 0xFFFF_FFFF }
        set { threadBits = (threadBits & ~0xFFFF_FFFF) | min(max(newValue, 0), maximumThreads) }
    }

    /// Whether the calling thread is running a chunk (nested loops then run inline).
    @usableFromInline static package var insideLoop: Bool {
        get { threadBits & (1 << 32) != 0 }
        set { threadBits = newValue ? threadBits | (1 << 32) : threadBits & ~(1 << 32) }
    }

    /// Runs `body` with the calling thread's kernels using `threads` workers (0 = the
    /// process-wide count), restoring the previous override afterwards.
    public static func withThreadCount<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        let saved = threadOverride
        threadOverride = threads
        defer { threadOverride = saved }
        return try body()
    }

    /// Runs `body(i)` for i in 0..<count, spread over `threadCount` workers (the caller is
    /// one of them). Runs inline when there is one chunk or one worker, or when called from
    /// inside a chunk.
    // Inlinable (with forRanges) so that a caller in another layer's module gets the loop
    // specialised for its closure: the element function then inlines into the chunk loop.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let threads = threadCount
        if count == 1 || threads <= 1 || insideLoop {
            runInline(count, body)
            return
        }
        withoutActuallyEscaping(body) { body in
            WorkerPool.shared.run(count, threads: threads, body)
        }
    }

    @usableFromInline static package func runInline(_ count: Int, _ body: (Int) -> Void) {
        for i in 0..<count { body(i) }
    }

    /// Splits 0..<total into at most `threadCount * oversubscribe` contiguous ranges of at
    /// least `minChunk` items and runs `body(range)` on each in parallel.
    @inlinable
    public static func forRanges(_ total: Int, minChunk: Int = 1, oversubscribe: Int = 1,
                                 _ body: (Range<Int>) -> Void) {
        if total <= 0 { return }
        let maxChunks = max(1, min(threadCount * oversubscribe, total / max(minChunk, 1)))
        let chunks = max(1, maxChunks)
        let base = total / chunks, extra = total % chunks
        forEach(chunks) { c in
            let start = c * base + min(c, extra)
            let end = start + base + (c < extra ? 1 : 0)
            body(start..<end)
        }
    }
}
