/// LRP-αβ as zennit 0.5 defines it (`zennit.rules.AlphaBeta`; `ZPlus` is α = 1, β = 0),
/// on a conv2d or linear node with input x, weight W and bias b. Positive and negative
/// contributions are normalised separately:
///   z⁺ = f(x⁺; W⁺, b⁺) + f(x⁻; W⁻),   z⁻ = f(x⁺; W⁻, b⁻) + f(x⁻; W⁺),
///   n± = R / (z± + ε·sign0(z±)),
///   R_x = α·(x⁺ ⊙ W⁺ᵀn⁺ + x⁻ ⊙ W⁻ᵀn⁺) − β·(x⁺ ⊙ W⁻ᵀn⁻ + x⁻ ⊙ W⁺ᵀn⁻).
/// The bias enters only with the x⁺ terms, clamped to the term's sign (zennit's ClampMod on
/// every parameter, with the bias zeroed for the x⁻ terms). sign0(0) = +1, zennit's
/// stabiliser. Conservative when α − β = 1 and no bias; zennit requires α, β ≥ 0 and
/// α − β = 1, and so does this rule. The x⁻ terms are skipped when x ≥ 0 (after a ReLU),
/// the z⁻ terms when β = 0.
struct AlphaBetaRule: RuleDefinition {
    static let name = "alpha_beta"
    static let parameterKeys: Set<String> = ["alpha", "beta", "stabilizer"]
    static let ops: Set<String>? = ["conv2d", "linear"]
    var alpha: Float
    var beta: Float
    var stabilizer: Float

    static func decode(_ json: ConfigReader) throws -> AlphaBetaRule {
        let rule = AlphaBetaRule(alpha: try json.float("alpha") ?? 2, beta: try json.float("beta") ?? 1,
                                 stabilizer: try json.float("stabilizer") ?? 1e-6)
        guard rule.alpha >= 0, rule.beta >= 0, rule.alpha - rule.beta == 1 else {
            throw PRPKitError.invalidArgument("\(json.context): alpha and beta must be ≥ 0 with alpha − beta = 1 (as zennit's AlphaBeta)")
        }
        return rule
    }
    var parameters: [(String, JSONValue)] {
        [("alpha", jsonNumber(alpha)), ("beta", jsonNumber(beta)), ("stabilizer", jsonNumber(stabilizer))]
    }
    var description: String { "AlphaBeta(alpha=\(alpha), beta=\(beta), stabilizer=\(stabilizer))" }

    /// Its cache holds x⁺ and x⁻, so x itself is not read.
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(prepared: true) }

    struct Cache: RuleCache {
        /// Stabilised z⁺ and (β > 0) z⁻, per forward example.
        var positive: Tensor
        var negative: Tensor?
        var split: SignSplit
        var tensors: [Tensor] { [positive] + (negative.map { [$0] } ?? []) + split.tensors }
    }

    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs: [Tensor], output: Tensor) throws -> (any RuleCache)? {
        let split = SignSplit(inputs[0])
        let b = engine.graph.parameter(node, "bias")
        let bPlus = b.map { t in Kernels.map(t) { max($0, 0) } }, bMinus = b.map { t in Kernels.map(t) { min($0, 0) } }
        func z(_ plusWeightPositive: Bool, bias: Tensor?) -> Tensor {
            var z = engine.signedLayerForward(node, split.plus, positive: plusWeightPositive, bias: bias)
            if let xm = split.minus {
                z = Kernels.add(z, engine.signedLayerForward(node, xm, positive: !plusWeightPositive, bias: nil))
            }
            return Kernels.signStabilized(z, stabilizer)
        }
        return Cache(positive: z(true, bias: bPlus), negative: beta == 0 ? nil : z(false, bias: bMinus), split: split)
    }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let cache = cache as! Cache, shape = state.shapes[node.inputs[0]]!
        func back(_ n: Tensor, plusWeightPositive: Bool) -> Tensor {
            let wp = { plusWeightPositive ? engine.positiveWeight(node) : engine.negativeWeight(node) }
            let wm = { plusWeightPositive ? engine.negativeWeight(node) : engine.positiveWeight(node) }
            let out = Kernels.rowBroadcast(engine.layerInputGradient(node, n, weight: wp, inputShape: shape), cache.split.plus)
            if let xm = cache.split.minus {
                Kernels.accumulate(out, Kernels.rowBroadcast(engine.layerInputGradient(node, n, weight: wm, inputShape: shape), xm))
            }
            return out
        }
        let out = back(Kernels.rowBroadcast(g, cache.positive, divide: true), plusWeightPositive: true)
        guard let neg = cache.negative else { return [alpha == 1 ? out : Kernels.map(out, into: out) { alpha * $0 }] }
        let r = back(Kernels.rowBroadcast(g, neg, divide: true), plusWeightPositive: false)
        let (a, b) = (alpha, beta), op = out.data, rp = r.data
        Parallel.forRanges(out.count, minChunk: 1 << 15) { range in
            for i in range { op[i] = a * op[i] - b * rp[i] }
        }
        return [out]
    }
}

/// x split into x⁺ (x itself when x ≥ 0) and x⁻ (nil then); the rules that treat the two
/// signs of their input apart share it (α1β0, αβ, generalised γ).
struct SignSplit: Sendable {
    var plus: Tensor
    var minus: Tensor?
    init(_ x: Tensor) {
        let hasNegative = x.buffer.contains { $0 < 0 }
        plus = hasNegative ? Kernels.map(x) { max($0, 0) } : x
        minus = hasNegative ? Kernels.map(x) { min($0, 0) } : nil
    }
    var tensors: [Tensor] { [plus] + (minus.map { [$0] } ?? []) }
}

extension Kernels {
    /// z + ε·sign0(z) with sign0(0) = +1: Captum's and zennit's stabiliser
    /// (`zennit.core.stabilize`), the engine's hook denominators and the ε·sign0 sums.
    static func signStabilized(_ z: Tensor, _ eps: Float) -> Tensor {
        Kernels.map(z) { v in v + (v < 0 ? -eps : eps) }
    }
}

extension Rule.Kind { public static let alphaBeta = Rule.Kind(rawValue: AlphaBetaRule.name) }

extension Rule {
    /// zennit's LRP-αβ (defaults α = 2, β = 1, stabiliser 1e-6; α = 1, β = 0 is zennit's
    /// ZPlus). Requires α, β ≥ 0 and α − β = 1 (precondition; JSON input is validated).
    public static func alphaBeta(alpha: Float = 2, beta: Float = 1, stabilizer: Float = 1e-6) -> Rule {
        precondition(alpha >= 0 && beta >= 0 && alpha - beta == 1, "alpha, beta ≥ 0 with alpha − beta = 1")
        return Rule(AlphaBetaRule(alpha: alpha, beta: beta, stabilizer: stabilizer))
    }
}
