#if canImport(Glibc)
import Glibc
#endif

/// Values made on first request, once per key, then kept; thread-safe (the maker runs
/// under the lock, so two threads never make the same value twice).
final class OnceMap<Value>: @unchecked Sendable {
    private var values: [String: Value] = [:]
    private let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func value(_ key: String, _ make: () -> Value) -> Value {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let v = values[key] { return v }
        let v = make()
        values[key] = v
        return v
    }

    var count: Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return values.count
    }
}
