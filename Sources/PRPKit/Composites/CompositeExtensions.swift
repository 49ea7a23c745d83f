/// Where CaBRNet's composite raises (the ops of DenseNet, MobileNet, EfficientNet and
/// ConvNeXt trunks), both PRP composites extend it with these rules (docs/backbones.md):
/// - activations other than ReLU, and ConvNeXt's layer scale, pass the relevance through:
///   each is one-to-one per element, so R_x = R_y keeps every element's share (Captum's
///   treatment of ReLU and Tanh, and what LRP-ε gives a per-element linear map);
/// - a BatchNorm with no conv to merge into (DenseNet's BN → ReLU → conv) passes the
///   relevance through too: it is per element, and for the rules of the conv after it
///   (ε, γ, α1β0, whose shares depend on the contributions w_ij·a_j only) this equals the
///   canonization that moves the BatchNorm's scale into that conv's weights;
/// - products take the gate rule (the gate held constant, all relevance to the signal);
/// - layer norm takes LRP-ε with its scale held constant;
/// - a softmax over channels (PIPNet's presence) holds its normaliser constant: each output
///   is then a monotone function of its own input, and passes its relevance to it.
extension Composites {
    /// The rule of `node` among the extension's ops, or nil for the others.
    static func extensionRule(_ node: Node, in graph: Graph, options: PRPCompositeOptions) throws -> Rule? {
        switch node.op {
        case .activation, .channelScale, .softmax: return .passThrough()
        case .layerNorm:
            return .layerNormEpsilon(stabilityFactor: options.stabilityFactor, setBiasToZero: options.setBiasToZero)
        // An ambiguous product gets no rule here: the explainer's explicit rules may give it
        // one, and resolving the rules names it otherwise.
        case .mul: return gateSignal(node, in: graph).map { .gate(signal: $0) }
        default: return nil
        }
    }

    /// Which input of a product is the signal: the full-size operand of a per-channel
    /// gate, else the one not made by a sigmoid or hard-sigmoid (x·σ(x) written out); nil
    /// when neither or both are.
    static func gateSignal(_ node: Node, in graph: Graph) -> Int? {
        let shapes = node.inputs.map { graph.shapes[$0]! }
        if shapes[0] != shapes[1] { return shapes[0] == graph.shapes[node.name]! ? 0 : 1 }
        let producers = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0) })
        let isGate = node.inputs.map { input -> Bool in
            switch producers[input]?.op {
            case .sigmoid?, .activation(.hardsigmoid)?: return true
            default: return false
            }
        }
        if isGate[0] != isGate[1] { return isGate[0] ? 1 : 0 }
        return nil
    }

    /// Nodes no relevance reaches: those whose every path to the outputs enters a gate
    /// (squeeze-excitation's pooling and small convs). They get pass-through, so they keep
    /// no forward state and own no input hook (which would scale the relevance that
    /// reaches a shared input through the signal path).
    static func gateBranches(_ nodes: [Node], outputs: [String], rules: [String: Rule]) -> [String] {
        let byName = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) })
        var reached = Set<String>(), stack = outputs
        while let v = stack.popLast() {
            guard let node = byName[v], reached.insert(v).inserted else { continue }
            if let gate = rules[v]?.definition as? GateRule {
                stack.append(node.inputs[gate.signal])
            } else {
                stack.append(contentsOf: node.inputs)
            }
        }
        return nodes.map(\.name).filter { !reached.contains($0) }
    }
}
