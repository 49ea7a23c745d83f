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
    private struct Entries {
        var states: [RelevancePropagator.ForwardState] = []  // most recently used last
        var sizes: [Int] = []
        var forwards = 0, reuses = 0
        var bytes: Int { sizes.reduce(0, +) }
        mutating func removeOldest() { states.removeFirst(); sizes.removeFirst() }
    }
    private let entries = Locked(Entries())

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Forward passes run and forward states reused so far.
    public var counts: (forwards: Int, reuses: Int) { entries.withLock { ($0.forwards, $0.reuses) } }

    /// Bytes of the states currently kept.
    public var bytes: Int { entries.withLock { $0.bytes } }

    /// The kept state for exactly these inputs, if any (counted as a reuse). On a miss the
    /// states that the next insertion would evict by count are dropped now, so that they
    /// do not stay alive beside the forward pass about to run.
    func lookup(_ inputs: [Tensor]) -> RelevancePropagator.ForwardState? {
        entries.withLock { e in
            guard let i = e.states.lastIndex(where: { ForwardStateCache.same($0.inputs, inputs) }) else {
                while !e.states.isEmpty && e.states.count >= limits.states { e.removeOldest() }
                return nil
            }
            e.reuses += 1
            let state = e.states.remove(at: i), size = e.sizes.remove(at: i)
            e.states.append(state); e.sizes.append(size)
            return state
        }
    }

    /// Records a forward pass and keeps its state if the limits allow; returns whether it
    /// was kept (then nobody may modify it).
    func insert(_ state: RelevancePropagator.ForwardState) -> Bool {
        let size = state.byteCount
        return entries.withLock { e in
            e.forwards += 1
            guard limits.states > 0, size <= limits.bytes else { return false }
            e.states.append(state); e.sizes.append(size)
            while e.states.count > limits.states || e.bytes > limits.bytes { e.removeOldest() }
            return true
        }
    }

    /// Drops every kept state.
    public func removeAll() {
        entries.withLock { $0.states.removeAll(); $0.sizes.removeAll() }
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
