import PRPKit

@_cdecl("prpkit_set_num_threads")
public func prpkit_set_num_threads(_ n: Int32) -> Int32 {
    guarded {
        // An absurd count would make every kernel split work into billions of chunks.
        guard n >= 0, n <= Parallel.maximumThreads else {
            throw ABIError.invalidArgument("thread count must be in 0...\(Parallel.maximumThreads) (0 = default), got \(n)")
        }
        Parallel.threadCount = n == 0 ? Parallel.defaultThreadCount() : Int(n)
    }
}

@_cdecl("prpkit_set_local_num_threads")
public func prpkit_set_local_num_threads(_ n: Int32) -> Int32 {
    guarded {
        guard n >= 0, n <= Parallel.maximumThreads else {
            throw ABIError.invalidArgument("thread count must be in 0...\(Parallel.maximumThreads) (0 = the process-wide setting), got \(n)")
        }
        Parallel.threadOverride = Int(n)
    }
}

@_cdecl("prpkit_get_num_threads")
public func prpkit_get_num_threads() -> Int32 {
    Int32(clamping: max(1, Parallel.threadCount))
}
