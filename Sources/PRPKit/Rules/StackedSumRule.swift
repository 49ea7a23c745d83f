/// CaBRNet's StackedSum on a residual `add` o = a + b: R_a = a ⊙ R / d, R_b = b ⊙ R / d.
/// CaBRNet 1.2 writes `eps * (o.sign() + o == 0)`, which Python parses as
/// eps·[(sign(o) + o) == 0], true only where o = 0: so d = o + ε·[o = 0]. prpkit
/// reproduces that quirk by default; `epsilonOnSign` gives d = o + ε·sign0(o), the
/// corrected composite's choice.
struct StackedSumRule: RuleDefinition {
    static let name = "stacked_sum"
    static let parameterKeys: Set<String> = ["stability_factor", "epsilon_on_sign"]
    static let ops: Set<String>? = ["add"]
    var stabilityFactor: Float
    var epsilonOnSign: Bool

    static func decode(_ json: ConfigReader) throws -> StackedSumRule {
        StackedSumRule(stabilityFactor: try json.float("stability_factor") ?? 1e-6,
                       epsilonOnSign: try json.bool("epsilon_on_sign") ?? false)
    }
    var parameters: [(String, JSONValue)] {
        [("stability_factor", jsonNumber(stabilityFactor))] + (epsilonOnSign ? [("epsilon_on_sign", .bool(true))] : [])
    }
    var description: String { "StackedSum(stability_factor=\(stabilityFactor)\(epsilonOnSign ? ", epsilon_on_sign=true" : ""))" }

    /// The denominator a + b is recomputed from the inputs in the backward.
    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(reads: node.inputs) }

    func denominator(_ o: Tensor) -> Tensor {
        let eps = stabilityFactor
        if epsilonOnSign { return Kernels.signStabilized(o, eps) }
        return Kernels.map(o) { $0 == 0 ? eps : $0 }
    }

    /// The denominator is recomputed from the inputs (o = a + b, the forward's own float
    /// sum) rather than kept from the forward: one elementwise pass instead of a stored map.
    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let x = node.inputs.map(state.activation)
        let q = Kernels.rowBroadcast(g, denominator(Kernels.add(x[0], x[1])), divide: true)
        return [Kernels.rowBroadcast(q, x[0]), Kernels.rowBroadcast(q, x[1])]
    }
}

extension Rule.Kind { public static let stackedSum = Rule.Kind(rawValue: StackedSumRule.name) }

extension Rule {
    /// CaBRNet's StackedSum (default ε = 1e-6 with CaBRNet's [o = 0] quirk).
    public static func stackedSum(stabilityFactor: Float = 1e-6, epsilonOnSign: Bool = false) -> Rule {
        Rule(StackedSumRule(stabilityFactor: stabilityFactor, epsilonOnSign: epsilonOnSign))
    }
}
