/// LRP-γ (Captum's GammaRule): W' = W + γ·W⁺, optional zero bias, z' = f(x; W', b'),
/// R_x = x ⊙ J'ᵀ [R / (z' + 1e-9·sign0(z'))]; x is the original activation.
struct GammaRule: RuleDefinition {
    static let name = "gamma"
    static let parameterKeys: Set<String> = ["gamma", "set_bias_to_zero"]
    var gamma: Float
    var setBiasToZero: Bool

    static func decode(_ json: ConfigReader) throws -> GammaRule {
        GammaRule(gamma: try json.float("gamma") ?? 0.25, setBiasToZero: try json.bool("set_bias_to_zero") ?? false)
    }
    var parameters: [(String, JSONValue)] { [("gamma", jsonNumber(gamma)), ("set_bias_to_zero", .bool(setBiasToZero))] }
    var description: String { "GammaRule(gamma=\(gamma), set_bias_to_zero=\(setBiasToZero))" }
    var hook: TensorHook? {
        let gamma = gamma
        return TensorHook(epsilon: 1e-9, weight: { w in Kernels.map(w) { $0 + gamma * max($0, 0) } }, dropsBias: setBiasToZero)
    }
}

extension Rule.Kind { public static let gamma = Rule.Kind(rawValue: GammaRule.name) }

extension Rule {
    /// LRP-γ (Captum's GammaRule; defaults γ = 0.25, bias kept).
    public static func gamma(_ gamma: Float = 0.25, setBiasToZero: Bool = false) -> Rule {
        Rule(GammaRule(gamma: gamma, setBiasToZero: setBiasToZero))
    }
}
