extension RelevancePropagator {
    /// f(x; W, b) for a conv2d or linear node with the given parameters.
    func layerForward(_ node: Node, _ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        if case .conv2d(let a) = node.op { return Kernels.conv2d(x, weight: weight, bias: bias, a) }
        return Kernels.linear(x, weight: weight, bias: bias)
    }

    /// f(x; W⁺, b) (`positive`) or f(x; W⁻, b) of a conv2d or linear node, on the direct
    /// kernel (one-signed weights keep it, see `Kernels.conv2dWeightLayout`). A
    /// convolution's W± is mapped from the graph's packing of W (kept for the ordinary
    /// forward) for this call only — the same floats as packing W± itself, with no second
    /// stored copy — when that packing is in a GEMM layout; after a Winograd one, W± is
    /// packed for the call instead.
    func signedLayerForward(_ node: Node, _ x: Tensor, positive: Bool, bias: Tensor?) -> Tensor {
        let shape = graph.parameterShape(node, "weight")!
        guard case .conv2d(let a) = node.op, Kernels.conv2dPacksWeights(shape, a) else {
            return layerForward(node, x, weight: positive ? positiveWeight(node) : negativeWeight(node), bias: bias)
        }
        let wanted = Kernels.conv2dWeightLayout(input: x.shape, weight: shape, a, signDefinite: true)
        let own = Kernels.conv2dWeightLayout(input: x.shape, weight: shape, a)
        let signed: PackedConvWeights
        if own == wanted {
            let name = node.parameters["weight"]!
            let packed = graph.packedConvWeights.packed(node.name, shape: shape, groups: a.groups, layout: own) {
                graph.made(name)!
            }
            signed = PackedConvWeights(signPart: packed, positive: positive)
        } else {
            signed = PackedConvWeights(weight: positive ? positiveWeight(node) : negativeWeight(node),
                                       groups: a.groups, layout: wanted)
        }
        return Kernels.conv2d(x, packed: signed, bias: bias, a)
    }

    /// Wᵀ·g for a conv2d or linear node (the VJP with respect to its input, whose forward
    /// shape is `inputShape`). `weight` gives the rule's weight (of the graph weight's
    /// shape) when it is needed. `keepsFlipped`: the weight is the same on every call for
    /// this node, so a stride-1 convolution's flipped kernel is packed once and kept in
    /// this propagator's cache (rules differ between propagators of one graph); `weight`
    /// is then only called to make that packing. `signDefinite`: the weight has one sign
    /// (α1β0's W⁺), so its flipped kernel keeps the direct kernel.
    /// `graphWeightSign`: the rule's weight is the graph weight's part of that sign (+1
    /// W⁺, −1 W⁻, 0 W itself). When the graph's weight is deferred (a composite's folded
    /// weight, whose one stored copy is the forward's packing) and that packing is in a
    /// GEMM layout, the flipped kernel's packing is made from it for this call only (the
    /// weight unpacked with its sign, then gathered into the packing) — the same floats as
    /// the kept packing, without a second stored copy of the weights.
    func layerInputGradient(_ node: Node, _ g: Tensor, weight: () -> Tensor, inputShape: [Int],
                            keepsFlipped: Bool = false, signDefinite: Bool = false,
                            graphWeightSign: Int? = nil) -> Tensor {
        guard case .conv2d(let a) = node.op else { return Kernels.linearInputGradient(g, weight: weight()) }
        let shape = graph.parameterShape(node, "weight")!
        if keepsFlipped, Kernels.transposedAsForward(shape, a) {
            let t = Kernels.flippedConvAttributes(shape, a)
            let flippedShape = [shape[1], shape[0], shape[2], shape[3]]
            let layout = Kernels.conv2dWeightLayout(input: g.shape, weight: flippedShape, t, signDefinite: signDefinite)
            if let sign = graphWeightSign, graph.isDeferred(node, "weight"), layout == .direct || layout == .transposed,
               let forward = graph.packedConvWeights.gemmPacking(node.name, shape: shape) {
                let packed = PackedConvWeights(flippedTransposedOf: forward.unpacked(sign: sign), layout: layout,
                                               kernels: GEMMKernelSet.current)
                return Kernels.conv2d(g, packed: packed, bias: nil, t)
            }
            let packed = packedWeights.packed(node.name + "\u{2}flipped", shape: flippedShape, groups: 1,
                                              layout: layout) { Kernels.flippedTransposedKernel(weight()) }
            return Kernels.conv2d(g, packed: packed, bias: nil, t)
        }
        return Kernels.conv2dInputGradient(g, weight: weight(), a, inputSize: Pair2(inputShape[2], inputShape[3]))
    }
}
