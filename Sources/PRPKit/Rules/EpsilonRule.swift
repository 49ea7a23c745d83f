/// LRP-ε (Captum's EpsilonRule): R_x = x ⊙ Jᵀ [R / (z + ε·sign0(z))].
/// Captum's default for Conv2d, Linear, pooling and BatchNorm2d, with ε = 1e-9.
struct EpsilonRule: RuleDefinition {
    static let name = "epsilon"
    static let parameterKeys: Set<String> = ["epsilon"]
    var epsilon: Float

    static func decode(_ json: ConfigReader) throws -> EpsilonRule { EpsilonRule(epsilon: try json.float("epsilon") ?? 1e-9) }
    var parameters: [(String, JSONValue)] { [("epsilon", jsonNumber(epsilon))] }
    var description: String { "EpsilonRule(epsilon=\(epsilon))" }
    var hook: TensorHook? { TensorHook(epsilon: epsilon) }
}

extension Rule.Kind { public static let epsilon = Rule.Kind(rawValue: EpsilonRule.name) }

extension Rule {
    /// LRP-ε with stabiliser `epsilon` (Captum's EpsilonRule; default 1e-9).
    public static func epsilon(_ epsilon: Float = 1e-9) -> Rule { Rule(EpsilonRule(epsilon: epsilon)) }
}
