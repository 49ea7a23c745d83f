/// Signal-take-all through a multiplicative gate o = s ⊙ g (squeeze-excitation's channel
/// gate, any product of a signal and a gate): the gate is held constant, so o is linear in
/// the signal s with one term per element and the whole relevance goes to s; the gate's
/// branch gets none (Arras et al. 2017, LRP for LSTMs' gated units). An extension: Captum
/// and CaBRNet have no rule for products.
struct GateRule: RuleDefinition {
    static let name = "gate"
    static let parameterKeys: Set<String> = ["signal"]
    static let ops: Set<String>? = ["mul"]
    /// Which input (0 or 1) is the signal; the other is the gate.
    var signal: Int

    static func decode(_ json: ConfigReader) throws -> GateRule {
        let s = try json.float("signal") ?? 0
        guard s == 0 || s == 1 else { throw PRPKitError.invalidArgument("\(json.context).signal must be 0 or 1") }
        return GateRule(signal: Int(s))
    }
    var parameters: [(String, JSONValue)] { [("signal", .number(Double(signal)))] }
    var description: String { "GateRule(signal=\(signal))" }
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds() }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let own = state.shapes[node.inputs[signal]]!
        guard Array(own.dropFirst()) == Array(g.shape.dropFirst()) else {
            throw PRPKitError.invalidArgument(
                "node '\(node.name)': gate rule's signal input \(signal) has shape \(own), the product \(state.shapes[node.name]!); the signal must be the full-size operand")
        }
        return signal == 0 ? [g, nil] : [nil, g]
    }
}

extension Rule.Kind { public static let gate = Rule.Kind(rawValue: GateRule.name) }

extension Rule {
    /// Signal-take-all through a product: input `signal` gets all relevance, the gate none.
    public static func gate(signal: Int) -> Rule { Rule(GateRule(signal: signal)) }
}
