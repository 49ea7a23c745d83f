#if canImport(Glibc)
import Glibc
#endif

/// The forward states of the last inputs one propagator saw, so that repeated calls on
/// the same input (ten `prp()` calls for ten prototypes of one image, Captum's
/// `attribute` for several targets) run one forward pass and then only backward passes.
///
/// Keyed by the inputs' shapes and exact bytes, compared in full (no hash stands in for
/// the comparison): a state is reused only for bit-identical inputs. The model and the
/// rules are fixed for a propagator's lifetime, so a changed model or rule means another
/// propagator with its own, empty cache. Bounded by a number of states and a byte budget;
/// the oldest state goes first. Thread-safe: a cached state is never modified.
public final class ForwardStateCache: @unchecked Sendable {
    public struct Limits: Equatable, Sendable {
        /// States kept at most (0 disables the cache).
        public var states: Int
        /// Bytes kept at most; a larger state is used once and not kept.
        public var bytes: Int
        public init(states: Int = 1, bytes: Int = 1 << 30) { self.states = states; self.bytes = bytes }
    }

    public let limits: Limits
    private var entries: [RelevancePropagator.ForwardState] = []
    private var heldBytes: [Int] = []
    private var forwards = 0, reuses = 0
    private let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    public init(limits: Limits = Limits()) { self.limits = limits }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Forward passes run and forward states reused so far.
    public var counts: (forwards: Int, reuses: Int) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return (forwards, reuses)
    }

    /// Bytes of the states currently kept.
    public var bytes: Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return heldBytes.reduce(0, +)
    }

    /// The kept state for exactly these inputs, if any (counted as a reuse). On a miss the
    /// states that the next insertion would evict by count are dropped now, so that they
    /// do not stay alive beside the forward pass about to run.
    func lookup(_ inputs: [Tensor]) -> RelevancePropagator.ForwardState? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard let i = entries.lastIndex(where: { ForwardStateCache.same($0.inputs, inputs) }) else {
            while !entries.isEmpty && entries.count >= limits.states { entries.removeFirst(); heldBytes.removeFirst() }
            return nil
        }
        reuses += 1
        // Most recently used last.
        let state = entries.remove(at: i), size = heldBytes.remove(at: i)
        entries.append(state); heldBytes.append(size)
        return state
    }

    /// Records a forward pass and keeps its state if the limits allow; returns whether it
    /// was kept (then nobody may modify it).
    func insert(_ state: RelevancePropagator.ForwardState) -> Bool {
        let size = state.byteCount
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        forwards += 1
        guard limits.states > 0, size <= limits.bytes else { return false }
        entries.append(state); heldBytes.append(size)
        while entries.count > limits.states || heldBytes.reduce(0, +) > limits.bytes {
            entries.removeFirst(); heldBytes.removeFirst()
        }
        return true
    }

    /// Drops every kept state.
    public func removeAll() {
        pthread_mutex_lock(lock)
        entries.removeAll(); heldBytes.removeAll()
        pthread_mutex_unlock(lock)
    }

    /// Same number of inputs, same shapes, same bytes.
    static func same(_ a: [Tensor], _ b: [Tensor]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            guard x.shape == y.shape else { return false }
            if x.count > 0 && memcmp(x.data, y.data, x.count * MemoryLayout<Float>.size) != 0 { return false }
        }
        return true
    }
}
