import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splits work across the machine's cores. Kernels call `Parallel.forEach` with a count
/// of independent chunks; chunk `i` must touch memory no other chunk writes.
public enum Parallel {
    /// Worker count used by every kernel. Defaults to the online core count, or to the
    /// environment variable `PRPKIT_NUM_THREADS` when it holds a positive integer.
    nonisolated(unsafe) public static var threadCount: Int = defaultThreadCount()

    static func defaultThreadCount() -> Int {
        if let env = getenv("PRPKIT_NUM_THREADS"), let n = Int(String(cString: env)), n > 0 {
            return n
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Runs `body(i)` for i in 0..<count, spread over `threadCount` workers.
    /// Runs inline when there is one chunk or one worker (no dispatch overhead).
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threadCount <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
        }
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
