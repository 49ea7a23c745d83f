/// What a forward pass returns.
public struct ForwardResult: @unchecked Sendable {
    /// The graph's outputs, in `Graph.outputs` order.
    public var outputs: [Tensor]
    /// The values that were asked to be kept (every value with `keepActivations`), by
    /// name; otherwise empty. Relevance propagation needs them.
    public var activations: [String: Tensor]
}

extension Graph {
    /// Runs the graph on `inputs` (one tensor per graph input, shapes of the declared
    /// rank). Intermediate tensors are released as soon as their last consumer has run,
    /// unless `keepActivations` is set. Safe to call from several threads at once (but
    /// profile one pass at a time: `profile` records each node's time and convolutions).
    public func forward(_ inputs: [Tensor], keepActivations: Bool = false,
                        profile: PassProfile? = nil) throws -> ForwardResult {
        try forward(inputs, retaining: keepActivations ? nil : [], profile: profile)
    }

    /// The forward pass, keeping the values named in `retain` (nil: every value) in
    /// `activations`; any other intermediate is released after its last reader, and an
    /// elementwise node may overwrite an input that nothing reads afterwards.
    /// `visit` is called right after each node named in `observed`, with the node's inputs
    /// (never overwritten by it) and its output: relevance propagation computes its
    /// forward-only quantities there, while the inputs are still alive.
    public func forward(_ inputs: [Tensor], retaining retain: Set<String>?, observed: Set<String> = [],
                        profile: PassProfile? = nil,
                        visit: (Node, [Tensor], Tensor) throws -> Void = { _, _, _ in }) throws -> ForwardResult {
        _ = try inferShapes(inputs.map(\.shape))
        var values: [String: Tensor] = [:]
        for (info, tensor) in zip(self.inputs, inputs) { values[info.name] = tensor }
        var remainingUses: [String: Int] = [:]
        if let retain {
            for node in nodes { for input in node.inputs { remainingUses[input, default: 0] += 1 } }
            for output in outputs { remainingUses[output, default: 0] += 1 }
            for name in retain { remainingUses[name, default: 0] += 1 }
        }
        // When nothing is kept or observed, a conv's BatchNorm/ReLU run in its store (same
        // floats); otherwise the intermediate a fusion skips could be one that is read.
        let fusions = retain?.isEmpty == true && observed.isEmpty ? convEpilogueFusions() : [:]
        var absorbed: Set<String> = []
        for node in nodes {
            if absorbed.contains(node.name) { continue }
            let args = node.inputs.map { values[$0]! }
            // An elementwise node may overwrite its first input when this node is that
            // input's last reader, nobody keeps it, and prpkit owns its memory.
            var reusable: Tensor? = nil
            let watched = observed.contains(node.name)
            if retain != nil, !watched, let first = node.inputs.first, remainingUses[first] == 1,
               node.inputs.dropFirst().allSatisfy({ $0 != first }), args[0].storage.owned {
                reusable = args[0]
            }
            let fused = fusions[node.name]
            if let fused { absorbed.formUnion(fused.absorbed) }
            let run = { self.evaluate(node, args, reuse: reusable, epilogue: fused?.epilogue) }
            let out = profile.map { $0.time(node, "forward", run) } ?? run()
            values[fused?.output ?? node.name] = out
            if watched { try visit(node, args, out) }
            MemoryTrace.mark("forward \(node.name)")
            if retain != nil {
                for input in node.inputs {
                    remainingUses[input]! -= 1
                    if remainingUses[input] == 0 { values[input] = nil }
                }
            }
        }
        let kept: [String: Tensor]
        if let retain { kept = values.filter { retain.contains($0.key) } } else { kept = values }
        return ForwardResult(outputs: outputs.map { values[$0]! }, activations: kept)
    }

    /// Applies one node's op. Shapes were checked by `inferShapes`. `overrides` replaces
    /// parameters by role (relevance rules recompute layers with modified weights);
    /// a role mapped to nil is dropped (a zeroed bias).
    /// `reuse`, when given, is `x[0]` and may be overwritten by elementwise ops; `epilogue`
    /// is fused into a conv2d (see `convEpilogueFusions`).
    package func evaluate(_ node: Node, _ x: [Tensor], overrides: [String: Tensor?] = [:], reuse: Tensor? = nil,
                  epilogue: ConvEpilogue? = nil) -> Tensor {
        func parameter(_ node: Node, _ role: String) -> Tensor? {
            if let o = overrides[role] { return o }
            return self.parameter(node, role)
        }
        switch node.op {
        case .conv2d(let a):
            // The graph's own weights (no override) are packed once per node and reused. A
            // deferred weight exists only as that packing: it is made (and dropped) only
            // when a packing has to be made.
            if overrides["weight"] == nil, let shape = self.parameterShape(node, "weight"),
               Kernels.conv2dPacksWeights(shape, a) {
                let layout = Kernels.conv2dWeightLayout(input: x[0].shape, weight: shape, a)
                let name = node.parameters["weight"]!
                let packed = packedConvWeights.packed(node.name, shape: shape, groups: a.groups, layout: layout) {
                    self.made(name)!
                }
                let bias = parameter(node, "bias")
                if isDeferred(node, "weight") {
                    return Kernels.conv2d(x[0], packed: packed, bias: bias, a, epilogue: epilogue)
                }
                return Kernels.conv2d(x[0], weight: storedParameters[name]!, bias: bias, a, packedWeights: packed,
                                      epilogue: epilogue)
            }
            return Kernels.conv2d(x[0], weight: parameter(node, "weight")!, bias: parameter(node, "bias"), a,
                                  epilogue: epilogue)
        case .linear:
            return Kernels.linear(x[0], weight: parameter(node, "weight")!, bias: parameter(node, "bias"))
        case .maxPool2d(let a): return Kernels.maxPool2d(x[0], a)
        case .avgPool2d(let a): return Kernels.avgPool2d(x[0], a)
        case .adaptiveAvgPool2d(let o): return Kernels.adaptiveAvgPool2d(x[0], output: o)
        case .batchNorm2d(let eps):
            return Kernels.batchNorm2d(x[0], weight: parameter(node, "weight")!, bias: parameter(node, "bias")!,
                                       mean: parameter(node, "running_mean")!,
                                       variance: parameter(node, "running_var")!, epsilon: eps, into: reuse)
        case .relu: return Kernels.relu(x[0], into: reuse)
        case .sigmoid: return Kernels.sigmoid(x[0])
        case .tanh: return Kernels.tanh(x[0])
        case .activation(let a): return Kernels.activation(x[0], a)
        case .layerNorm(let eps):
            return Kernels.layerNormChannels(x[0], weight: parameter(node, "weight")!, bias: parameter(node, "bias")!, epsilon: eps)
        case .channelScale: return Kernels.channelScale(x[0], parameter(node, "weight")!)
        case .mul: return Kernels.multiply(x[0], x[1])
        case .softmax: return Kernels.softmaxChannels(x[0])
        case .dropout: return x[0]
        case .add: return Kernels.add(x[0], x[1], into: reuse)
        case .flatten, .reshape:
            // Shape inference already produced the target shape; the floats are shared.
            return try! x[0].reshaped(try! ShapeInference.outputShape(of: node, inputs: [x[0].shape], parameters: [:]))
        case .concat(let axis):
            return Kernels.concat(x, axis: axis < 0 ? axis + x[0].rank : axis)
        case .l2Distance(let mode):
            return Kernels.l2Distance(x[0], prototypes: parameter(node, "prototypes")!, mode: mode)
        case .logSimilarity(let eps): return Kernels.logSimilarity(x[0], epsilon: eps)
        case .expSimilarity(let eps, let logp): return Kernels.expSimilarity(x[0], epsilon: eps, logProbabilities: logp)
        case .spatialMin: return Kernels.spatialExtremum(x[0], maximum: false)
        case .spatialMax: return Kernels.spatialExtremum(x[0], maximum: true)
        }
    }
}
