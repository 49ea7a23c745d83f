/// CaBRNet's GradientRule: no hooks; the layer's ordinary backward (for MaxPool2d: the
/// signal goes to the window's argmax, undivided).
struct GradientRule: RuleDefinition {
    static let name = "gradient"
    static let parameterKeys: Set<String> = []

    static func decode(_ json: ConfigReader) throws -> GradientRule { GradientRule() }
    var parameters: [(String, JSONValue)] { [] }
    var description: String { "GradientRule()" }
}

extension Rule.Kind { public static let gradient = Rule.Kind(rawValue: GradientRule.name) }

extension Rule {
    /// CaBRNet's GradientRule: the node's ordinary backward.
    public static func gradient() -> Rule { Rule(GradientRule()) }
}
