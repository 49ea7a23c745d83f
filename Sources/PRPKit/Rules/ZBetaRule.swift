/// CaBRNet's z^B rule for the first (pixel) layer, conv2d or linear, with the input
/// bounded to [l, u] (normalized units; one scalar each as in CaBRNet, or one per input
/// channel): z = f(x; W, b) − f(l; W⁺, b⁺) − f(u; W⁻, b⁻) (biases dropped under
/// setBiasToZero), n = R / (z + ε·(sign(z) + [z = 0])), R_x = x ⊙ Wᵀn − l ⊙ W⁺ᵀn − u ⊙ W⁻ᵀn.
/// l and u are tensors of x's shape, so a convolution zero-pads them like x.
struct ZBetaRule: RuleDefinition {
    static let name = "zbeta"
    static let parameterKeys: Set<String> = ["lower_bound", "upper_bound", "stability_factor", "set_bias_to_zero"]
    static let ops: Set<String>? = ["conv2d", "linear"]
    /// One bound each way, or one per input channel (then `lower.count == upper.count`).
    var lower: [Float]
    var upper: [Float]
    var perChannel: Bool
    var stabilityFactor: Float
    var setBiasToZero: Bool

    static func decode(_ json: ConfigReader) throws -> ZBetaRule {
        let eps = try json.float("stability_factor") ?? 1e-6, noBias = try json.bool("set_bias_to_zero") ?? true
        if let lower = try json.floats("lower_bound"), let upper = try json.floats("upper_bound") {
            guard lower.count == upper.count, !lower.isEmpty else {
                throw PRPKitError.invalidArgument("\(json.context): lower_bound and upper_bound need one value per channel each")
            }
            return ZBetaRule(lower: lower, upper: upper, perChannel: true, stabilityFactor: eps, setBiasToZero: noBias)
        }
        return ZBetaRule(lower: [try json.float("lower_bound") ?? ZBetaDefaults.lowerBound],
                         upper: [try json.float("upper_bound") ?? ZBetaDefaults.upperBound], perChannel: false,
                         stabilityFactor: eps, setBiasToZero: noBias)
    }

    var parameters: [(String, JSONValue)] {
        func bound(_ b: [Float]) -> JSONValue { perChannel ? .array(b.map(jsonNumber)) : jsonNumber(b[0]) }
        return [("lower_bound", bound(lower)), ("upper_bound", bound(upper)),
                ("stability_factor", jsonNumber(stabilityFactor)), ("set_bias_to_zero", .bool(setBiasToZero))]
    }

    var description: String {
        func bound(_ b: [Float]) -> String { perChannel ? "\(b)" : "\(b[0])" }
        return "ZBeta(lower_bound=\(bound(lower)), upper_bound=\(bound(upper)), stability_factor=\(stabilityFactor), set_bias_to_zero=\(setBiasToZero))"
    }

    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(reads: [node.inputs[0]], prepared: true) }

    /// The bound tensor of one input row: `rowShape` (no batch), channels first.
    func bound(lower isLower: Bool, rowShape: [Int]) throws -> Tensor {
        let t = Tensor(zeros: [1] + rowShape)
        let values = isLower ? lower : upper
        if !perChannel {
            t.buffer.update(repeating: values[0])
            return t
        }
        guard values.count == rowShape[0], lower.count == upper.count else {
            throw PRPKitError.invalidArgument(
                "z^B has \(lower.count) lower and \(upper.count) upper channel bounds for an input with \(rowShape[0]) channels")
        }
        let per = t.count / values.count
        for (c, v) in values.enumerated() { (t.data + c * per).update(repeating: v, count: per) }
        return t
    }

    struct Cache: RuleCache {
        var denominator: Tensor
        /// The bound tensors of one input row (1, input dims…).
        var lower: Tensor
        var upper: Tensor
        var tensors: [Tensor] { [denominator, lower, upper] }
    }

    /// The stabilised denominator (per forward example) and the bound tensors.
    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs: [Tensor], output: Tensor) throws -> (any RuleCache)? {
        let x = inputs[0], graph = engine.graph
        let w = graph.parameter(node, "weight")!
        let b = setBiasToZero ? nil : graph.parameter(node, "bias")
        let (wPlus, wMinus) = (engine.positiveWeight(node), engine.negativeWeight(node))
        let bPlus = b.map { t in Kernels.map(t) { max($0, 0) } }, bMinus = b.map { t in Kernels.map(t) { min($0, 0) } }
        let lower = try bound(lower: true, rowShape: Array(x.shape.dropFirst()))
        let upper = try bound(lower: false, rowShape: Array(x.shape.dropFirst()))
        let z = engine.layerForward(node, x, weight: w, bias: b)
        let zl = engine.layerForward(node, lower, weight: wPlus, bias: bPlus)
        let zu = engine.layerForward(node, upper, weight: wMinus, bias: bMinus)
        let eps = stabilityFactor
        let per = zl.count
        let den = Tensor(zeros: z.shape)
        for i in 0..<z.count {
            let v = z.data[i] - zl.data[i % per] - zu.data[i % per]
            den.data[i] = v + (v < 0 ? -eps : eps)
        }
        return Cache(denominator: den, lower: lower, upper: upper)
    }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let cache = cache as! Cache, x = state.activation(node.inputs[0])
        let w = engine.graph.parameter(node, "weight")!
        let n = Kernels.rowBroadcast(g, cache.denominator, divide: true)
        let tx = engine.layerInputGradient(node, n, weight: { w }, inputShape: x.shape)
        let tl = engine.layerInputGradient(node, n, weight: { engine.positiveWeight(node) }, inputShape: x.shape)
        let tu = engine.layerInputGradient(node, n, weight: { engine.negativeWeight(node) }, inputShape: x.shape)
        let out = Kernels.rowBroadcast(tx, x)
        let per = cache.lower.count
        let op = out.data, lp = tl.data, up = tu.data, lb = cache.lower.data, ub = cache.upper.data
        Parallel.forRanges(out.count, minChunk: 1 << 15) { r in
            for i in r { op[i] -= lb[i % per] * lp[i] + ub[i % per] * up[i] }
        }
        return [out]
    }
}

extension Rule.Kind { public static let zBeta = Rule.Kind(rawValue: ZBetaRule.name) }

extension Rule {
    /// z^B with one bound each way (CaBRNet's ZBetaConv2d / ZBetaLinear; defaults:
    /// ImageNet's extremes, ε = 1e-6, bias dropped).
    public static func zBeta(lowerBound: Float = ZBetaDefaults.lowerBound, upperBound: Float = ZBetaDefaults.upperBound,
                             stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        Rule(ZBetaRule(lower: [lowerBound], upper: [upperBound], perChannel: false,
                       stabilityFactor: stabilityFactor, setBiasToZero: setBiasToZero))
    }

    /// z^B with one bound per input channel — the exact pixel range [(0 − μ_c)/σ_c,
    /// (1 − μ_c)/σ_c] of an input normalised with mean μ and std σ (the corrected
    /// composite). Both arrays need one value per input channel of the layer it is put
    /// on; other counts fail when the layer runs (PRPKitError.invalidArgument).
    public static func zBeta(channelLowerBounds: [Float], channelUpperBounds: [Float],
                             stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        Rule(ZBetaRule(lower: channelLowerBounds, upper: channelUpperBounds, perChannel: true,
                              stabilityFactor: stabilityFactor, setBiasToZero: setBiasToZero))
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
