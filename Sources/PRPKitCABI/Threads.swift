import PRPKit

/// The most worker threads a caller may ask for.
let maxThreads: Int32 = 1024

/// The default worker count, captured before any caller changes it.
private let defaultThreadCount = Parallel.threadCount

@_cdecl("prpkit_set_num_threads")
public func prpkit_set_num_threads(_ n: Int32) -> Int32 {
    guarded {
        // An absurd count would make every kernel split work into billions of chunks.
        guard n >= 0, n <= maxThreads else {
            throw ABIError.invalidArgument("thread count must be in 0...\(maxThreads) (0 = default), got \(n)")
        }
        _ = defaultThreadCount  // capture the default before the first change
        Parallel.threadCount = n == 0 ? defaultThreadCount : Int(n)
    }
}

@_cdecl("prpkit_get_num_threads")
public func prpkit_get_num_threads() -> Int32 {
    Int32(clamping: max(1, Parallel.threadCount))
}
