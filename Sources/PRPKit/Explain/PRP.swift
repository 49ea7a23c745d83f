/// Which similarity-map locations a PRP heatmap explains (CaBRNet prp()'s `location`),
/// selected exactly as CaBRNet 1.2's prp() loop does: a location (i, j) is skipped when
/// S[i, j] < threshold, so NaN similarities are selected and a NaN threshold selects all.
public enum PRPLocation: Equatable, Sendable {
    /// The single location of the maximum (first in row-major order on ties).
    case max
    /// The location (h, w), with h in −Hs..<Hs and w in −Ws..<Ws. Non-negative: that
    /// location alone. A negative entry keeps CaBRNet's meaning: its loop only pins a
    /// row (column) whose index is ≥ 0, and its threshold is S[h mod Hs, w mod Ws]
    /// (Python indexing), so (−1, w) selects every location of column w whose
    /// similarity is ≥ S[Hs − 1, w], and (−1, −1) every location ≥ S[Hs − 1, Ws − 1].
    case at(h: Int, w: Int)
    /// Every location with similarity ≥ threshold, their attributions summed (−∞: all,
    /// +∞: none, so the relevance is zero).
    case threshold(Float)
}

/// PRP heatmaps on a composite whose output is a similarity map (N, P, H, W).
///
/// CaBRNet runs one Captum LRP call per selected location and sums. Propagation is
/// linear in the starting signal for a fixed forward pass, so prpkit seeds ONE backward
/// pass with S[p, h, w] at every selected location (0 elsewhere) — the seed already
/// carries Captum's final multiply-by-score. Many prototypes of one image share one
/// forward pass and run as one batched backward.
public final class PRPExplainer: @unchecked Sendable {
    public let propagator: RelevancePropagator

    public init(composite: Composite) throws {
        propagator = try RelevancePropagator(graph: composite.graph, rules: composite.rules)
    }

    public init(propagator: RelevancePropagator) { self.propagator = propagator }

    public struct Heatmaps {
        /// Raw relevance at the input, (N·K, C, H, W): row n·K + k is prototype k of image n.
        public var relevance: Tensor
        /// The similarity maps (N, P, Hs, Ws) of the forward pass.
        public var similarity: Tensor
        /// Per row, the locations (flat h·Ws + w) whose similarity seeded the backward.
        public var seeds: [[Int]]
    }

    /// Relevance maps of `prototypes` (K indices) for every image of `input` (N, C, H, W).
    public func explain(_ input: Tensor, prototypes: [Int], location: PRPLocation) throws -> Heatmaps {
        let (state, shared) = try propagator.forwardState([input])
        let sim = state.outputs[0]
        guard sim.rank == 4 else {
            throw PRPKitError.invalidArgument("PRP needs a model whose output is a similarity map (N, P, H, W); got \(sim.shape)")
        }
        let (n, p, hs, ws) = (sim.shape[0], sim.shape[1], sim.shape[2], sim.shape[3])
        guard !prototypes.isEmpty else { throw PRPKitError.invalidArgument("no prototype given") }
        for proto in prototypes where proto < 0 || proto >= p {
            throw PRPKitError.invalidArgument("prototype index \(proto) out of range (model has \(p))")
        }
        if case .at(let h, let w) = location, !(-hs..<hs).contains(h) || !(-ws..<ws).contains(w) {
            throw PRPKitError.invalidArgument("location (\(h), \(w)) outside the \(hs)×\(ws) similarity map")
        }
        let k = prototypes.count, hw = hs * ws
        let startShape = [try ShapeMath.count([n, k], "PRP rows N*K"), p, hs, ws]
        _ = try ShapeMath.count(startShape, "PRP start signal")
        let start = Tensor(zeros: startShape)
        var seeds: [[Int]] = []
        for img in 0..<n {
            for (j, proto) in prototypes.enumerated() {
                let map = sim.data + (img * p + proto) * hw
                let dst = start.data + ((img * k + j) * p + proto) * hw
                var chosen: [Int] = []
                switch location {
                case .max:
                    var best = 0
                    for l in 1..<max(hw, 1) where map[l] > map[best] { best = l }
                    chosen = [best]
                case .at(let h, let w) where h >= 0 && w >= 0: chosen = [h * ws + w]
                case .at(let h, let w):
                    let t = map[((h + hs) % hs) * ws + (w + ws) % ws]
                    chosen = (0..<hw).filter { l in (h < 0 || l / ws == h) && (w < 0 || l % ws == w) && !(map[l] < t) }
                case .threshold(let t): chosen = (0..<hw).filter { !(map[$0] < t) }
                }
                for l in chosen { dst[l] = map[l] }
                seeds.append(chosen)
            }
        }
        let relevance = try propagator.propagate(state, start: start, outputIndex: 0, capturing: [], consuming: !shared).inputs[0]
        return Heatmaps(relevance: relevance, similarity: sim, seeds: seeds)
    }
}
