#if canImport(Glibc)
import Glibc
#endif

/// Per-node timings of forward and relevance passes, for benchmarks and profiling:
/// pass one to `Graph.forward`, `RelevancePropagator.prepare` or `propagate` and read its
/// `entries` afterwards. Each entry also lists the convolutions the node ran (their
/// direct-equivalent FLOPs and the algorithm used), as the kernels report them to the
/// process-wide `ConvolutionLog` while a profiled node runs: profile one pass at a time.
public final class PassProfile: @unchecked Sendable {
    public typealias Convolution = ConvolutionLog.Entry

    public struct Entry: Sendable {
        public let node: String
        /// The node's op kind (`conv2d`, `relu`, …).
        public let op: String
        /// "forward", "rule forward" (a rule's forward-only quantities, e.g. α1β0's z⁺) or
        /// "backward".
        public let phase: String
        public let seconds: Double
        public let convolutions: [Convolution]
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Runs `body` as node `node`'s work in `phase`, recording its wall time and convolutions.
    package func time<T>(_ node: Node, _ phase: String, _ body: () throws -> T) rethrows -> T {
        ConvolutionLog.active = []
        let start = PassProfile.now()
        let result = try body()
        let seconds = PassProfile.now() - start
        entries.append(Entry(node: node.name, op: node.op.kind, phase: phase, seconds: seconds,
                             convolutions: ConvolutionLog.active ?? []))
        ConvolutionLog.active = nil
        return result
    }

    /// Monotonic clock, seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
