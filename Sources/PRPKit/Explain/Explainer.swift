/// A model prepared for relevance propagation under an `ExplainerConfig`: Captum's LRP
/// (`attribute`, `propagate`) and PRP heatmaps (`prp`) over one propagator.
/// Immutable and safe to share between threads.
public final class Explainer: @unchecked Sendable {
    /// The graph relevance flows through (the composite when one was requested).
    public let graph: Graph
    public let propagator: RelevancePropagator
    public let lrp: LRP
    public let prpExplainer: PRPExplainer

    public init(model: Graph, config: ExplainerConfig = ExplainerConfig()) throws {
        var rules = config.rules
        var graph = model
        if let options = config.composite {
            let composite = try Composites.cabrnetPRP(model, options: options)
            graph = composite.graph
            rules.byNode = composite.rules.byNode.merging(config.rules.byNode) { _, explicit in explicit }
            rules.byKind = composite.rules.byKind.merging(config.rules.byKind) { _, explicit in explicit }
        }
        self.graph = graph
        propagator = try RelevancePropagator(graph: graph, rules: rules, cache: config.forwardCache)
        lrp = LRP(propagator: propagator)
        prpExplainer = PRPExplainer(propagator: propagator)
        MemoryTrace.mark("explainer ready")
    }

    /// Every node's rule as JSON: {node name: rule object, or null for an ordinary backward}.
    public var rulesJSON: JSONValue {
        .object(graph.nodes.map { node in
            (node.name, (propagator.rules[node.name] ?? nil)?.json ?? .null)
        })
    }
}
