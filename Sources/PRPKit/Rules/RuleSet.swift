/// Which rule each node of a graph gets: an explicit rule by node name wins over one
/// by op kind, which wins over Captum's default table.
public struct RuleSet: Equatable, Sendable {
    public var byNode: [String: Rule] = [:]
    public var byKind: [String: Rule] = [:]

    public init(byNode: [String: Rule] = [:], byKind: [String: Rule] = [:]) {
        self.byNode = byNode; self.byKind = byKind
    }

    /// Captum 0.9's SUPPORTED_LAYERS_WITH_RULES (EpsilonRule(1e-9)) and
    /// SUPPORTED_NON_LINEAR_LAYERS (pass-through), by prpkit op kind.
    public static let captumDefaults: [String: Rule] = [
        "conv2d": .epsilon(), "linear": .epsilon(), "max_pool2d": .epsilon(),
        "avg_pool2d": .epsilon(), "adaptive_avg_pool2d": .epsilon(), "batch_norm2d": .epsilon(),
        "relu": .passThrough(), "dropout": .passThrough(), "tanh": .passThrough(),
    ]

    /// Ops that are functions rather than layers in a traced model (torch.flatten, `+`,
    /// torch.cat, view): Captum never gives them a rule, they apply their own backward.
    public static let functionalKinds: Set<String> = ["add", "flatten", "reshape", "concat"]

    /// The rule of every node, nil meaning "ordinary backward". Throws, naming the node,
    /// when a layer has no rule and no default exists (Captum raises TypeError there).
    public func resolve(_ graph: Graph) throws -> [String: Rule?] {
        var out: [String: Rule?] = [:]
        for name in byNode.keys where !graph.nodes.contains(where: { $0.name == name }) {
            throw PRPKitError.invalidArgument("rule given for unknown node '\(name)'")
        }
        for node in graph.nodes {
            if let r = byNode[node.name] ?? byKind[node.op.kind] ?? RuleSet.captumDefaults[node.op.kind] {
                if let allowed = type(of: r.definition).ops, !allowed.contains(node.op.kind) {
                    throw PRPKitError.invalidArgument(
                        "\(r) cannot apply to node '\(node.name)' (\(node.op.kind)); it takes \(allowed.sorted().joined(separator: ", "))")
                }
                out[node.name] = .some(r)
            } else if RuleSet.functionalKinds.contains(node.op.kind) {
                out[node.name] = .some(nil)
            } else {
                // A product the composites cannot read: they tell the signal from the gate by
                // shape or by a sigmoid's output.
                let hint = node.op.kind == "mul"
                    ? " (a product: the composites cannot tell the signal from the gate; give it {\"rule\": \"gate\", \"signal\": 0 or 1})" : ""
                throw PRPKitError.unsupported(
                    "node '\(node.name)' (\(node.op.kind)) has no rule and no default rule exists for it; set one explicitly\(hint)")
            }
        }
        return out
    }
}
