import PRPKit

/// The default worker count, captured before any caller changes it.
private let defaultThreadCount = Parallel.threadCount

@_cdecl("prpkit_set_num_threads")
public func prpkit_set_num_threads(_ n: Int32) -> Int32 {
    guarded {
        guard n >= 0 else { throw ABIError.invalidArgument("thread count must be ≥ 0 (0 = default), got \(n)") }
        _ = defaultThreadCount  // capture the default before the first change
        Parallel.threadCount = n == 0 ? defaultThreadCount : Int(n)
    }
}

@_cdecl("prpkit_get_num_threads")
public func prpkit_get_num_threads() -> Int32 {
    Int32(clamping: max(1, Parallel.threadCount))
}
