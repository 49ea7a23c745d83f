/// CaBRNet's Alpha1Beta0Conv2d / Alpha1Beta0Linear backward (the PRP composite's rule for
/// every layer but the first): z = f(x⁺; W⁺, b⁺) + f(x⁻; W⁻) (b⁺ dropped under
/// setBiasToZero), n = R / (z + ε·sign(z) + 1e-12·[z = 0]), R_x = x⁺ ⊙ W⁺ᵀn + x⁻ ⊙ W⁻ᵀn.
/// The x⁻ path is skipped when x ≥ 0 (after a ReLU).
struct PRPAlpha1Beta0Rule: RuleDefinition {
    static let name = "prp_alpha1_beta0"
    static let parameterKeys: Set<String> = ["stability_factor", "set_bias_to_zero"]
    static let ops: Set<String>? = ["conv2d", "linear"]
    var stabilityFactor: Float
    var setBiasToZero: Bool

    static func decode(_ json: ConfigReader) throws -> PRPAlpha1Beta0Rule {
        PRPAlpha1Beta0Rule(stabilityFactor: try json.float("stability_factor") ?? 1e-6,
                           setBiasToZero: try json.bool("set_bias_to_zero") ?? true)
    }
    var parameters: [(String, JSONValue)] {
        [("stability_factor", jsonNumber(stabilityFactor)), ("set_bias_to_zero", .bool(setBiasToZero))]
    }
    var description: String { "Alpha1Beta0(stability_factor=\(stabilityFactor), set_bias_to_zero=\(setBiasToZero))" }

    /// Its cache holds x⁺ (x itself when x ≥ 0) and x⁻, so x itself is not read.
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(prepared: true) }

    struct Cache: RuleCache {
        var denominator: Tensor
        var xPlus: Tensor
        /// nil when the input has no negative entry.
        var xMinus: Tensor?
        var tensors: [Tensor] { [denominator, xPlus] + (xMinus.map { [$0] } ?? []) }
    }

    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs: [Tensor], output: Tensor) throws -> (any RuleCache)? {
        let x = inputs[0]
        let bPlus = setBiasToZero ? nil : engine.graph.parameter(node, "bias").map { t in Kernels.map(t) { max($0, 0) } }
        let split = SignSplit(x)
        var z = engine.signedLayerForward(node, split.plus, positive: true, bias: bPlus)
        if let xm = split.minus {
            z = Kernels.add(z, engine.signedLayerForward(node, xm, positive: false, bias: nil))
        }
        let eps = stabilityFactor
        let den = Kernels.map(z) { v in v + (v > 0 ? eps : (v < 0 ? -eps : 1e-12)) }
        return Cache(denominator: den, xPlus: split.plus, xMinus: split.minus)
    }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let cache = cache as! Cache, inputShape = state.shapes[node.inputs[0]]!
        let n = Kernels.rowBroadcast(g, cache.denominator, divide: true)
        let out = Kernels.rowBroadcast(engine.layerInputGradient(node, n, weight: { engine.positiveWeight(node) },
                                                                 inputShape: inputShape, keepsFlipped: true,
                                                                 signDefinite: true, graphWeightSign: 1), cache.xPlus)
        if let xm = cache.xMinus {
            Kernels.accumulate(out, Kernels.rowBroadcast(engine.layerInputGradient(node, n, weight: { engine.negativeWeight(node) },
                                                                                   inputShape: inputShape), xm))
        }
        return [out]
    }
}

extension Rule.Kind { public static let prpAlpha1Beta0 = Rule.Kind(rawValue: PRPAlpha1Beta0Rule.name) }

extension Rule {
    /// CaBRNet's α1β0 (defaults ε = 1e-6, bias dropped).
    public static func prpAlpha1Beta0(stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        Rule(PRPAlpha1Beta0Rule(stabilityFactor: stabilityFactor, setBiasToZero: setBiasToZero))
    }
}
