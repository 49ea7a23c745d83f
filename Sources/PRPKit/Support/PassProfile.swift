#if canImport(Glibc)
import Glibc
#endif

/// Per-node timings of forward and relevance passes, for benchmarks and profiling:
/// pass one to `Graph.forward`, `RelevancePropagator.prepare` or `propagate` and read its
/// `entries` afterwards. Each entry also lists the convolutions the node ran (their
/// direct-equivalent FLOPs and the algorithm used). Convolutions are attributed by a
/// process-wide hook while a profiled node runs, so profile one pass at a time.
public final class PassProfile: @unchecked Sendable {
    public struct Convolution: Sendable {
        /// 2·N·Cout·(Cin/groups)·kH·kW·Ho·Wo: what a direct convolution multiplies and adds.
        public let flops: Double
        /// The algorithm that ran (`ConvWeightLayout.description`).
        public let algorithm: String
    }

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
    func time<T>(_ node: Node, _ phase: String, _ body: () throws -> T) rethrows -> T {
        PassProfile.active = []
        let start = PassProfile.now()
        let result = try body()
        let seconds = PassProfile.now() - start
        entries.append(Entry(node: node.name, op: node.op.kind, phase: phase, seconds: seconds,
                             convolutions: PassProfile.active ?? []))
        PassProfile.active = nil
        return result
    }

    /// Convolutions of the node being profiled (nil when none is).
    nonisolated(unsafe) static var active: [Convolution]? = nil

    static func recordConvolution(flops: Double, algorithm: ConvWeightLayout) {
        if active != nil { active!.append(Convolution(flops: flops, algorithm: algorithm.description)) }
    }

    /// Monotonic clock, seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
