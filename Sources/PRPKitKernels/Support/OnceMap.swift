#if canImport(Glibc)
import Glibc
#endif

/// Values made on first request, once per key, then kept; thread-safe (the maker runs
/// under the lock, so two threads never make the same value twice).
final package class OnceMap<Value>: @unchecked Sendable {
    private let values = Locked<[String: Value]>([:])

    package init() {}

    package func value(_ key: String, _ make: () -> Value) -> Value {
        values.withLock { values in
            if let v = values[key] { return v }
            let v = make()
            values[key] = v
            return v
        }
    }

    package var count: Int { values.withLock { $0.count } }
}

/// Starts a detached thread running `body` (prpkit's long-lived helpers: kernel workers,
/// the tensor pool's janitor). Returns false when the system refuses a thread.
package func startDetachedThread(stackBytes: Int, _ body: @escaping () -> Void) -> Bool {
    final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, stackBytes)
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let status = pthread_create(&thread, &attributes, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box)
    if status != 0 { Unmanaged<Box>.fromOpaque(box).release() }
    return status == 0
}
