extension Rule {
    /// CaBRNet's z^B rule for the first (pixel) layer, conv2d or linear, with the input
    /// bounded to [lower, upper] (normalized units, one scalar each as in CaBRNet):
    /// z = f(x; W, b) − f(l; W⁺, b⁺) − f(u; W⁻, b⁻) (biases dropped under setBiasToZero),
    /// n = R / (z + ε·(sign(z) + [z = 0])), R_x = x ⊙ Wᵀn − l ⊙ W⁺ᵀn − u ⊙ W⁻ᵀn.
    /// l and u are tensors of x's shape, so a convolution zero-pads them like x.
    public static func zBeta(lowerBound: Float = ZBetaDefaults.lowerBound, upperBound: Float = ZBetaDefaults.upperBound,
                             stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        Rule(kind: .zBeta, epsilon: stabilityFactor, setBiasToZero: setBiasToZero,
             lowerBound: lowerBound, upperBound: upperBound)
    }

    /// z^B with one bound per input channel — the exact pixel range [(0 − μ_c)/σ_c,
    /// (1 − μ_c)/σ_c] of an input normalised with mean μ and std σ (the corrected composite).
    public static func zBeta(channelLowerBounds: [Float], channelUpperBounds: [Float],
                             stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        var r = Rule(kind: .zBeta, epsilon: stabilityFactor, setBiasToZero: setBiasToZero,
                     lowerBound: channelLowerBounds.min() ?? 0, upperBound: channelUpperBounds.max() ?? 0)
        r.channelLowerBounds = channelLowerBounds
        r.channelUpperBounds = channelUpperBounds
        return r
    }

    /// The bound tensor of one input row: `shape` without batch, channels first.
    func zBetaBound(lower: Bool, rowShape: [Int]) throws -> Tensor {
        let t = Tensor(zeros: [1] + rowShape)
        let perChannel = lower ? channelLowerBounds : channelUpperBounds
        if perChannel.isEmpty {
            t.buffer.update(repeating: lower ? lowerBound : upperBound)
            return t
        }
        guard perChannel.count == rowShape[0] else {
            throw PRPKitError.invalidArgument("z^B has \(perChannel.count) channel bounds for an input with \(rowShape[0]) channels")
        }
        let per = t.count / perChannel.count
        for (c, v) in perChannel.enumerated() { (t.data + c * per).update(repeating: v, count: per) }
        return t
    }
}

/// CaBRNet's defaults: the extremes over ImageNet's channel normalization.
public enum ZBetaDefaults {
    /// min(−0.485/0.229, −0.456/0.224, −0.406/0.225) = −0.485/0.229
    public static let lowerBound = Float(-0.485 as Double / 0.229)
    /// max((1−0.485)/0.229, (1−0.456)/0.224, (1−0.406)/0.225) = (1−0.406)/0.225
    public static let upperBound = Float((1 - 0.406) as Double / 0.225)

    /// CaBRNet's scalar bounds for inputs normalised by (x − mean)/std per channel from
    /// pixels in [0, 1]: the least (0 − mean)/std and the greatest (1 − mean)/std, in Double
    /// and rounded once (as the Python package's `zbeta_bounds`). Non-empty, equal counts.
    public static func bounds(mean: [Double], std: [Double]) -> (lower: Float, upper: Float) {
        precondition(!mean.isEmpty && mean.count == std.count, "one mean and one std per channel")
        return (Float(zip(mean, std).map { -$0 / $1 }.min()!), Float(zip(mean, std).map { (1 - $0) / $1 }.max()!))
    }
}

extension RelevancePropagator {
    /// Forward-only part of z^B: the stabilised denominator (per forward example).
    func zBetaPrepare(_ node: Node, rule: Rule, input x: Tensor) throws -> ZBetaCache {
        let w = graph.parameter(node, "weight")!
        let b = rule.setBiasToZero ? nil : graph.parameter(node, "bias")
        let (wPlus, wMinus) = (positiveWeight(node), negativeWeight(node))
        let bPlus = b.map { t in Kernels.map(t) { max($0, 0) } }, bMinus = b.map { t in Kernels.map(t) { min($0, 0) } }
        let lower = try rule.zBetaBound(lower: true, rowShape: Array(x.shape.dropFirst()))
        let upper = try rule.zBetaBound(lower: false, rowShape: Array(x.shape.dropFirst()))
        let z = layerForward(node, x, weight: w, bias: b)
        let zl = layerForward(node, lower, weight: wPlus, bias: bPlus)
        let zu = layerForward(node, upper, weight: wMinus, bias: bMinus)
        let eps = rule.epsilon
        let per = zl.count
        let den = Tensor(zeros: z.shape)
        for i in 0..<z.count {
            let v = z.data[i] - zl.data[i % per] - zu.data[i % per]
            den.data[i] = v + (v < 0 ? -eps : eps)
        }
        return ZBetaCache(denominator: den, lower: lower, upper: upper)
    }

    struct ZBetaCache {
        var denominator: Tensor
        /// The bound tensors of one input row (1, input dims…).
        var lower: Tensor
        var upper: Tensor
    }

    func zBetaBackward(_ node: Node, rule: Rule, g: Tensor, input x: Tensor, cache: ZBetaCache) -> Tensor {
        let w = graph.parameter(node, "weight")!
        let n = Kernels.rowBroadcast(g, cache.denominator, divide: true)
        let tx = layerInputGradient(node, n, weight: { w }, inputShape: x.shape)
        let tl = layerInputGradient(node, n, weight: { self.positiveWeight(node) }, inputShape: x.shape)
        let tu = layerInputGradient(node, n, weight: { self.negativeWeight(node) }, inputShape: x.shape)
        let out = Kernels.rowBroadcast(tx, x)
        let per = cache.lower.count
        let op = out.data, lp = tl.data, up = tu.data, lb = cache.lower.data, ub = cache.upper.data
        Parallel.forRanges(out.count, minChunk: 1 << 15) { r in
            for i in r { op[i] -= lb[i % per] * lp[i] + ub[i % per] * up[i] }
        }
        return out
    }
}
