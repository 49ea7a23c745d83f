/// zennit's `Norm` rule (the rule of its composites for sums and average pooling): each
/// input's share of the output, R_xᵢ = xᵢ ⊙ Jᵢᵀ [R / (z + ε·sign0(z))], with z the node's
/// output and Jᵢ its Jacobian with respect to input i. On a residual `add` (zennit's `Sum`
/// module, which its ResNet canonizer inserts) that is R_a = a ⊙ R / (a + b + ε·sign0(a + b)),
/// likewise for b; on an average pool it is LRP-ε with ε as a stabiliser only.
/// Unlike Captum's tensor-hook EpsilonRule, the relevance it returns is final at each input
/// (zennit's module hooks): a tensor read by several nodes gets the sum of their relevances.
struct NormRule: RuleDefinition {
    static let name = "norm"
    static let parameterKeys: Set<String> = ["stabilizer"]
    static let ops: Set<String>? = ["add", "avg_pool2d", "adaptive_avg_pool2d"]
    var stabilizer: Float

    static func decode(_ json: ConfigReader) throws -> NormRule { NormRule(stabilizer: try json.float("stabilizer") ?? 1e-6) }
    var parameters: [(String, JSONValue)] { [("stabilizer", jsonNumber(stabilizer))] }
    var description: String { "Norm(stabilizer=\(stabilizer))" }

    func forwardNeeds(_ node: Node) -> ForwardNeeds? { ForwardNeeds(reads: node.inputs, prepared: true) }

    struct Cache: RuleCache {
        var denominator: Tensor
        var tensors: [Tensor] { [denominator] }
    }

    func prepare(_ engine: RelevancePropagator, _ node: Node, inputs: [Tensor], output: Tensor) throws -> (any RuleCache)? {
        Cache(denominator: Kernels.signStabilized(output, stabilizer))
    }

    func backward(_ engine: RelevancePropagator, _ node: Node, _ g: Tensor, state: RelevancePropagator.ForwardState,
                  cache: (any RuleCache)?) throws -> [Tensor?]? {
        let q = Kernels.rowBroadcast(g, (cache as! Cache).denominator, divide: true)
        let vjp = try engine.vectorJacobian(node, q, state: state, overrides: [:])
        return zip(vjp, node.inputs).map { c, input in c.map { Kernels.rowBroadcast($0, state.activation(input)) } }
    }
}

extension Rule.Kind { public static let norm = Rule.Kind(rawValue: NormRule.name) }

extension Rule {
    /// zennit's Norm (default stabiliser 1e-6), for `add` and average pools.
    public static func norm(stabilizer: Float = 1e-6) -> Rule { Rule(NormRule(stabilizer: stabilizer)) }
}
