#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex. Used instead of the Synchronization module's
/// `Mutex` because ThreadSanitizer understands pthread locks but not that Mutex's futex
/// calls, and reported the accesses it serialises as races (ForwardStateCache.lookup).
final package class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    package init(_ value: Value) { self.value = value }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
