/// LRP-ε through a layer norm over the channels whose normalising scale is held constant
/// (Ali et al. 2022, "XAI for Transformers: better explanations through conservative
/// propagation", the LN-rule): with r = (σ² + ε_LN)^−½ a constant, y = γ ⊙ (x − μ)·r + β is
/// linear in x per pixel, z_ij = γ_i·r·(δ_ij − 1/C)·x_j, and LRP-ε on that map gives
///     R_j = x_j·r·(γ_j·s_j − (1/C)·Σ_i γ_i·s_i),  s_i = R_i / (z_i + ε·sign0(z_i)),
/// z_i = γ_i·(x_i − μ)·r (+ β_i unless the bias is dropped). Without β it conserves
/// relevance (Σ_j R_j = Σ_i R_i·z_i/(z_i ± ε)). An extension: Captum and CaBRNet have no
/// rule for layer norm.
struct LayerNormEpsilonRule: RuleDefinition {
    static let name = "layer_norm_epsilon"
    static let parameterKeys: Set<String> = ["stability_factor", "set_bias_to_zero"]
    static let ops: Set<String>? = ["layer_norm"]
    var stabilityFactor: Float
    var setBiasToZero: Bool

    static func decode(_ json: ConfigReader) throws -> LayerNormEpsilonRule {
        LayerNormEpsilonRule(stabilityFactor: try json.float("stability_factor") ?? 1e-6,
                             setBiasToZero: try json.bool("set_bias_to_zero") ?? true)
    }
    var parameters: [(String, JSONValue)] {
        [("stability_factor", jsonNumber(stabilityFactor)), ("set_bias_to_zero", .bool(setBiasToZero))]
    }
    var description: String { "LayerNormEpsilon(stability_factor=\(stabilityFactor), set_bias_to_zero=\(setBiasToZero))" }
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(reads: [node.inputs[0]]) }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        guard case .layerNorm(let lnEpsilon) = node.op else { return nil }
        let x = state.activation(node.inputs[0])
        let weight = engine.graph.parameter(node, "weight")!
        let bias = setBiasToZero ? nil : engine.graph.parameter(node, "bias")
        return [Kernels.layerNormChannelsLinearTranspose(g, input: x, weight: weight, bias: bias,
                                                         normEpsilon: lnEpsilon, stabilizer: stabilityFactor)]
    }
}

extension Rule.Kind { public static let layerNormEpsilon = Rule.Kind(rawValue: LayerNormEpsilonRule.name) }

extension Rule {
    /// LRP-ε through a layer norm with its scale held constant (default ε = 1e-6, bias dropped).
    public static func layerNormEpsilon(stabilityFactor: Float = 1e-6, setBiasToZero: Bool = true) -> Rule {
        Rule(LayerNormEpsilonRule(stabilityFactor: stabilityFactor, setBiasToZero: setBiasToZero))
    }
}
