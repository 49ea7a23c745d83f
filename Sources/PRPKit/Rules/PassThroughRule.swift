/// Captum's treatment of ReLU, Dropout and Tanh (SUPPORTED_NON_LINEAR_LAYERS): the signal
/// passes through unchanged, and nothing of the forward pass is read.
struct PassThroughRule: RuleDefinition {
    static let name = "pass_through"
    static let parameterKeys: Set<String> = []

    static func decode(_ json: ConfigReader) throws -> PassThroughRule { PassThroughRule() }
    var parameters: [(String, JSONValue)] { [] }
    var description: String { "PassThrough()" }
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds() }
    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? { [g] }
}

extension Rule.Kind { public static let passThrough = Rule.Kind(rawValue: PassThroughRule.name) }

extension Rule {
    /// The signal passes through unchanged (Captum's ReLU / Dropout / Tanh handling).
    public static func passThrough() -> Rule { Rule(PassThroughRule()) }
}
