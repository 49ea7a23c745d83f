/// Captum's `LRP(model).attribute(...)`, natively: one forward pass (reused while the
/// same input comes back, see `ForwardStateCache`), one batched backward, the multiply by
/// the target score, the convergence delta.
public final class LRP: @unchecked Sendable {
    public let propagator: RelevancePropagator

    public init(graph: Graph, rules: RuleSet = RuleSet()) throws {
        propagator = try RelevancePropagator(graph: graph, rules: rules)
    }

    public init(propagator: RelevancePropagator) { self.propagator = propagator }

    public struct Attribution {
        /// Relevance per graph input, each shaped like that input (N, …).
        public var relevance: [Tensor]
        /// The target output value per example, s[n].
        public var scores: [Float]
        /// s[n] − Σ relevance[n] (summed over every input), per example.
        public var convergenceDelta: [Float]
    }

    /// Attribution for one target per example: `targets[n]` indexes output `outputIndex`
    /// of example n (all dimensions after the batch, e.g. [class] or [p, h, w]).
    public func attribute(_ inputs: [Tensor], targets: [[Int]], outputIndex: Int = 0) throws -> Attribution {
        let (state, shared) = try propagator.forwardState(inputs)
        let (start, scores) = try targetStart(state, targets: targets, outputIndex: outputIndex)
        let relevance = try propagator.propagate(state, start: start, outputIndex: outputIndex, capturing: [],
                                                 consuming: !shared).inputs
            .map { LRP.scaled($0, by: scores) }
        let delta = LRP.convergenceDelta(relevance, scores: scores)
        return Attribution(relevance: relevance, scores: scores, convergenceDelta: delta)
    }

    /// Row e of `r` (N rows) multiplied by `scores[e]`, in place; returns `r`.
    static func scaled(_ r: Tensor, by scores: [Float]) -> Tensor {
        let n = scores.count, per = r.count / n
        for e in 0..<n { for i in 0..<per { r.data[e * per + i] *= scores[e] } }
        return r
    }

    /// s[e] − Σ over every tensor of `relevance` of its row e.
    static func convergenceDelta(_ relevance: [Tensor], scores: [Float]) -> [Float] {
        (0..<scores.count).map { e -> Float in
            var total: Float = 0
            for r in relevance {
                let per = r.count / scores.count
                for i in 0..<per { total += r.data[e * per + i] }
            }
            return scores[e] - total
        }
    }

    /// Captum's start signal (1 at each example's target entry of output `outputIndex`)
    /// and the target scores s[n].
    func targetStart(_ state: RelevancePropagator.ForwardState, targets: [[Int]],
                     outputIndex: Int) throws -> (start: Tensor, scores: [Float]) {
        let n = state.batch
        guard targets.count == n else {
            throw PRPKitError.invalidArgument("need one target per example: \(n) examples, \(targets.count) targets")
        }
        guard outputIndex >= 0, outputIndex < state.outputs.count else {
            throw PRPKitError.invalidArgument("output index \(outputIndex) out of range (model has \(state.outputs.count))")
        }
        let out = state.outputs[outputIndex]
        let dims = Array(out.shape.dropFirst())
        let rowSize = out.count / n
        let start = Tensor(zeros: out.shape)
        var scores = [Float](repeating: 0, count: n)
        for (e, t) in targets.enumerated() {
            guard t.count == dims.count, zip(t, dims).allSatisfy({ $0 >= 0 && $0 < $1 }) else {
                throw PRPKitError.invalidArgument("target \(t) of example \(e) is not an index into output dims \(dims)")
            }
            let flat = zip(t, dims).reduce(0) { $0 * $1.1 + $1.0 }
            start.data[e * rowSize + flat] = 1
            scores[e] = out.data[e * rowSize + flat]
        }
        return (start, scores)
    }

    /// Propagates explicit start relevances: `start` is (N·K, output dims…), K maps per
    /// example (row r belongs to example r / K), all in ONE backward pass over one
    /// forward pass. Returns per graph input (N·K, input dims…); the start already
    /// carries any scaling, so nothing is multiplied at the end.
    public func propagate(_ inputs: [Tensor], start: Tensor, outputIndex: Int = 0) throws -> [Tensor] {
        let (state, shared) = try propagator.forwardState(inputs)
        return try propagator.propagate(state, start: start, outputIndex: outputIndex, capturing: [], consuming: !shared).inputs
    }
}
