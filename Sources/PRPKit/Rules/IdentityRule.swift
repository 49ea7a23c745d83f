/// Captum's IdentityRule: R_x = R. The signal arriving at the layer's output is
/// remembered; on the input tensor whose hook this layer owns, the total signal is
/// replaced by it.
struct IdentityRule: RuleDefinition {
    static let name = "identity"
    static let parameterKeys: Set<String> = []

    static func decode(_ json: ConfigReader) throws -> IdentityRule { IdentityRule() }
    var parameters: [(String, JSONValue)] { [] }
    var description: String { "IdentityRule()" }
    var hook: TensorHook? { TensorHook(input: .replaceBySignal, epsilon: 1e-9) }
}

extension Rule.Kind { public static let identity = Rule.Kind(rawValue: IdentityRule.name) }

extension Rule {
    /// Captum's IdentityRule.
    public static func identity() -> Rule { Rule(IdentityRule()) }
}
