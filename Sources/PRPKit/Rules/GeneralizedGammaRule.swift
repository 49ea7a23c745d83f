/// The generalised LRP-γ of zennit 0.5 (`zennit.rules.Gamma`; Montavon et al. 2019,
/// Andéol et al. 2021), on a conv2d or linear node with input x, weight W, bias b and
/// output o = f(x; W, b). With W_a = W + γ·W⁺, W_b = W + γ·W⁻, b_a = b + γ·b⁺, b_b = b + γ·b⁻:
///   z_p = f(x⁺; W_a, b_a) + f(x⁻; W_b),   z_n = f(x⁺; W_b, b_b) + f(x⁻; W_a),
///   n_p = [o > 0]·R / (z_p + ε·sign0(z_p)),   n_n = [o < 0]·R / (z_n + ε·sign0(z_n)),
///   R_x = x⁺ ⊙ (W_aᵀn_p + W_bᵀn_n) + x⁻ ⊙ (W_bᵀn_p + W_aᵀn_n).
/// A positive output is explained by the contributions that favour it (γ amplifies them),
/// a negative one by those that oppose it; an output of exactly 0 passes no relevance.
/// For x ≥ 0 and o > 0 this is the original LRP-γ with the bias b + γ·b⁺ — which is not
/// Captum's GammaRule (`gamma`: W + γ·W⁺ for every output, bias b, ε = 1e-9).
struct GeneralizedGammaRule: RuleDefinition {
    static let name = "generalized_gamma"
    static let parameterKeys: Set<String> = ["gamma", "stabilizer"]
    static let ops: Set<String>? = ["conv2d", "linear"]
    var gamma: Float
    var stabilizer: Float

    static func decode(_ json: ConfigReader) throws -> GeneralizedGammaRule {
        let rule = GeneralizedGammaRule(gamma: try json.float("gamma") ?? 0.25, stabilizer: try json.float("stabilizer") ?? 1e-6)
        guard rule.gamma >= 0 else { throw PRPKitError.invalidArgument("\(json.context): gamma must be ≥ 0") }
        return rule
    }
    var parameters: [(String, JSONValue)] { [("gamma", jsonNumber(gamma)), ("stabilizer", jsonNumber(stabilizer))] }
    var description: String { "Gamma(gamma=\(gamma), stabilizer=\(stabilizer))" }

    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(prepared: true) }

    /// W_a (`positive`) or W_b of a tensor (a weight or a bias).
    func modified(_ t: Tensor, positive: Bool) -> Tensor {
        let gamma = gamma
        return positive ? Kernels.map(t) { $0 + gamma * max($0, 0) } : Kernels.map(t) { $0 + gamma * min($0, 0) }
    }

    struct Cache: RuleCache {
        /// Stabilised z_p where o > 0 and z_n where o < 0; +∞ elsewhere, so that R / it is 0.
        var positive: Tensor
        var negative: Tensor
        var split: SignSplit
        var tensors: [Tensor] { [positive, negative] + split.tensors }
    }

    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs: [Tensor], output: Tensor) throws -> (any RuleCache)? {
        let split = SignSplit(inputs[0])
        let w = engine.graph.parameter(node, "weight")!, b = engine.graph.parameter(node, "bias")
        let (wa, wb) = (modified(w, positive: true), modified(w, positive: false))
        func z(_ first: Tensor, _ second: Tensor, bias: Tensor?) -> Tensor {
            var z = engine.layerForward(node, split.plus, weight: first, bias: bias)
            if let xm = split.minus { z = Kernels.add(z, engine.layerForward(node, xm, weight: second, bias: nil)) }
            return z
        }
        let zp = z(wa, wb, bias: b.map { modified($0, positive: true) })
        let zn = z(wb, wa, bias: b.map { modified($0, positive: false) })
        let eps = stabilizer, o = output.data, pp = zp.data, np = zn.data
        Parallel.forRanges(output.count, minChunk: 1 << 15) { r in
            for i in r {
                let p = pp[i], n = np[i]
                pp[i] = o[i] > 0 ? p + (p < 0 ? -eps : eps) : .infinity
                np[i] = o[i] < 0 ? n + (n < 0 ? -eps : eps) : .infinity
            }
        }
        return Cache(positive: zp, negative: zn, split: split)
    }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let cache = cache as! Cache, shape = state.shapes[node.inputs[0]]!
        let w = engine.graph.parameter(node, "weight")!
        let np = Kernels.rowBroadcast(g, cache.positive, divide: true)
        let nn = Kernels.rowBroadcast(g, cache.negative, divide: true)
        func t(_ n: Tensor, positive: Bool) -> Tensor {
            engine.layerInputGradient(node, n, weight: { modified(w, positive: positive) }, inputShape: shape)
        }
        // x⁺ ⊙ (W_aᵀn_p + W_bᵀn_n) [+ x⁻ ⊙ (W_bᵀn_p + W_aᵀn_n)]
        let out = Kernels.rowBroadcast(Kernels.accumulate(t(np, positive: true), t(nn, positive: false)), cache.split.plus)
        if let xm = cache.split.minus {
            Kernels.accumulate(out, Kernels.rowBroadcast(Kernels.accumulate(t(np, positive: false), t(nn, positive: true)), xm))
        }
        return [out]
    }
}

extension Rule.Kind { public static let generalizedGamma = Rule.Kind(rawValue: GeneralizedGammaRule.name) }

extension Rule {
    /// zennit's generalised LRP-γ (defaults γ = 0.25, stabiliser 1e-6). γ ≥ 0 (precondition;
    /// JSON input is validated).
    public static func generalizedGamma(_ gamma: Float = 0.25, stabilizer: Float = 1e-6) -> Rule {
        precondition(gamma >= 0, "gamma ≥ 0")
        return Rule(GeneralizedGammaRule(gamma: gamma, stabilizer: stabilizer))
    }
}
