/// Captum's `LayerLRP(model, layers).attribute(inputs, target, attribute_to_layer_input)`:
/// the relevance at the output (or input) tensor of chosen layers instead of at the model
/// input, from the same forward and backward pass as `LRP.attribute`.
///
/// Captum reads it from the rule object of each layer: on the output side the signal its
/// output hook receives (the total over the layer's consumers, after the next rule layer's
/// multiply-by-input), on the input side the result of its input hook (the total signal
/// at the input times the input). Both are then multiplied by the target score s[n]. So a
/// layer must carry a hooking rule (ε, γ, α1β0, identity; Captum fails on layers without
/// one, e.g. ReLU or GradientRule layers), and for the input side it must own the hook on
/// its single input (be its first rule consumer in forward order) and not be an
/// IdentityRule layer (whose input hook replaces the signal without recording it).
extension LRP {
    public enum LayerSide: String, Sendable {
        /// Captum's `attribute_to_layer_input=False`.
        case output
        /// Captum's `attribute_to_layer_input=True`.
        case input
    }

    public struct LayerAttribution {
        /// Per layer, (N, value dims…): the relevance at that layer's `side`.
        public var relevance: [Tensor]
        /// The target output value per example, s[n].
        public var scores: [Float]
        /// Per layer, s[n] − Σ relevance[n] (Captum's compute_convergence_delta).
        public var convergenceDelta: [[Float]]
    }

    /// The value (tensor name) Captum's LayerLRP reads for `layer` on `side`, or an error
    /// saying why Captum has none.
    public func layerValue(_ layer: String, side: LayerSide) throws -> String {
        guard let node = propagator.graph.nodes.first(where: { $0.name == layer }) else {
            throw PRPKitError.invalidArgument("LayerLRP: no node named '\(layer)'")
        }
        guard let rule = propagator.rules[layer] ?? nil, rule.hooksTensors else {
            let what = (propagator.rules[layer] ?? nil).map { "rule \($0)" } ?? "no rule"
            throw PRPKitError.invalidArgument(
                "LayerLRP: node '\(layer)' (\(node.op.kind)) has \(what); relevance is recorded only on layers with an LRP rule (epsilon, gamma, alpha1_beta0, identity), as in Captum")
        }
        guard side == .input else { return layer }
        guard node.inputs.count == 1 else {
            throw PRPKitError.invalidArgument("LayerLRP: node '\(layer)' has \(node.inputs.count) inputs; the input side needs one")
        }
        guard rule.kind != .identity else {
            throw PRPKitError.invalidArgument("LayerLRP: node '\(layer)' has IdentityRule, whose input hook records no relevance (Captum fails there too)")
        }
        let value = node.inputs[0]
        guard propagator.hookOwner[value]?.name == layer else {
            throw PRPKitError.invalidArgument(
                "LayerLRP: the input '\(value)' of node '\(layer)' is hooked by '\(propagator.hookOwner[value]?.name ?? "?")', its first rule consumer; Captum records input relevance only there")
        }
        return value
    }

    /// Relevance at `layers` (node names) for one target per example, as
    /// `attribute(_:targets:outputIndex:)` takes them.
    public func attributeLayers(_ inputs: [Tensor], targets: [[Int]], layers: [String], side: LayerSide,
                                outputIndex: Int = 0) throws -> LayerAttribution {
        guard !layers.isEmpty else { throw PRPKitError.invalidArgument("LayerLRP: no layer given") }
        let values = try layers.map { try layerValue($0, side: side) }
        let (state, shared) = try propagator.forwardState(inputs)
        let (start, scores) = try targetStart(state, targets: targets, outputIndex: outputIndex)
        let relevance = try propagator.propagate(state, start: start, outputIndex: outputIndex, capturing: values,
                                                 consuming: !shared)
            .captured.map { LRP.scaled($0, by: scores) }
        return LayerAttribution(relevance: relevance, scores: scores,
                                convergenceDelta: relevance.map { LRP.convergenceDelta([$0], scores: scores) })
    }
}
