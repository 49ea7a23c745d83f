/// Captum's Alpha1_Beta0_Rule: as GammaRule with W' = W⁺. Unlike the textbook α1β0 rule,
/// Captum does not split x into x⁺ and x⁻ (CaBRNet's Alpha1Beta0Conv2d does:
/// PRPAlpha1Beta0Rule).
struct Alpha1Beta0Rule: RuleDefinition {
    static let name = "alpha1_beta0"
    static let parameterKeys: Set<String> = ["set_bias_to_zero"]
    var setBiasToZero: Bool

    static func decode(_ json: ConfigReader) throws -> Alpha1Beta0Rule {
        Alpha1Beta0Rule(setBiasToZero: try json.bool("set_bias_to_zero") ?? false)
    }
    var parameters: [(String, JSONValue)] { [("set_bias_to_zero", .bool(setBiasToZero))] }
    var description: String { "Alpha1_Beta0_Rule(set_bias_to_zero=\(setBiasToZero))" }
    var hook: TensorHook? {
        TensorHook(epsilon: 1e-9, weight: { w in Kernels.map(w) { max($0, 0) } }, dropsBias: setBiasToZero,
                   signDefiniteWeight: true)
    }
}

extension Rule.Kind { public static let alpha1Beta0 = Rule.Kind(rawValue: Alpha1Beta0Rule.name) }

extension Rule {
    /// Captum's Alpha1_Beta0_Rule (default: bias kept).
    public static func alpha1Beta0(setBiasToZero: Bool = false) -> Rule { Rule(Alpha1Beta0Rule(setBiasToZero: setBiasToZero)) }
}
