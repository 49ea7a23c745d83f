/// A relevance propagation rule as data: its name and parameters, which cross the C ABI
/// and the Python boundary as JSON ({"rule": name, parameters…}; docs/explainer-config.md).
/// Each rule is defined in its own file (a `RuleDefinition`); the static constructors
/// there (`Rule.epsilon(_:)`, `Rule.zBeta(…)`, …) make them.
public struct Rule: Hashable, Sendable, CustomStringConvertible {
    /// A rule's name, as in JSON ("epsilon", "zbeta", …); each rule's file declares its own.
    public struct Kind: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Every rule prpkit defines, in registry order.
        public static var allCases: [Kind] { RuleRegistry.definitions.map { Kind(rawValue: $0.name) } }
    }

    let definition: any RuleDefinition

    init(_ definition: any RuleDefinition) { self.definition = definition }

    public var kind: Kind { Kind(rawValue: type(of: definition).name) }

    /// The rule as its JSON object: {"rule": name, parameters…}.
    public var json: JSONValue { .object([("rule", .string(type(of: definition).name))] + definition.parameters) }

    /// A rule from its JSON object {"rule": name, parameters…}; absent parameters take the
    /// reference's defaults; unknown names and keys are errors naming `context`.
    public init(json: JSONValue, context: String) throws {
        let r = try ConfigReader(json, context)
        guard case .string(let name)? = r["rule"], let definition = RuleRegistry.byName[name] else {
            throw PRPKitError.invalidArgument(
                "\(context): \"rule\" must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try r.allow(definition.parameterKeys.union(["rule"]))
        self.init(try definition.decode(r))
    }

    /// The reference's repr, e.g. "EpsilonRule(epsilon=1e-09)".
    public var description: String { definition.description }

    /// Whether the rule works through Captum's tensor hooks (LayerLRP records only those).
    public var hooksTensors: Bool { definition.hook != nil }

    /// Two rules are equal when their names and parameters are.
    public static func == (a: Rule, b: Rule) -> Bool { a.json == b.json }
    public func hash(into hasher: inout Hasher) { hasher.combine(JSONWriter.write(json)) }
}

/// A rule parameter as JSON: the float32 value's shortest decimal form.
func jsonNumber(_ f: Float) -> JSONValue { .number(Double(String(f)) ?? Double(f)) }
