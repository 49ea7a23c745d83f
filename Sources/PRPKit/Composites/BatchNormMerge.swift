/// Folding inference BatchNorm into the preceding convolution, as CaBRNet 1.2's
/// composite does it (graph pass; the input graph is not changed).
enum BatchNormMerge {
    /// Module-tree parent of a node named by its module path ("a.b.conv" → "a.b").
    static func parent(_ name: String) -> String {
        guard let dot = name.lastIndex(of: ".") else { return "" }
        return String(name[..<dot])
    }

    /// Ops that stand for modules (children in the module tree); functional ops
    /// (add, mul, flatten, reshape, concat) are not children of anything.
    static let moduleKinds: Set<String> = Set([
        "conv2d", "linear", "batch_norm2d", "layer_norm", "relu", "sigmoid", "tanh", "dropout",
        "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    ] + Activation.allCases.map(\.rawValue))

    /// For every batch_norm2d among `scope` that CaBRNet merges, the conv2d it merges into:
    /// its previous sibling in order of first call, which must be a conv2d whose output
    /// only that BatchNorm reads. CaBRNet raises for the others (DenseNet's BN → ReLU →
    /// conv, a BatchNorm after a concatenation); prpkit keeps them as they are (the
    /// composites give them their own rule).
    static func pairs(in nodes: [Node], scope: Set<String>) -> [(conv: String, bn: String)] {
        var result: [(String, String)] = []
        let modules = nodes.filter { scope.contains($0.name) && moduleKinds.contains($0.op.kind) }
        var readers: [String: Int] = [:]
        for node in nodes { for input in node.inputs { readers[input, default: 0] += 1 } }
        var merged = Set<String>()
        for (i, node) in modules.enumerated() where node.op.kind == "batch_norm2d" {
            let p = parent(node.name)
            // The closest earlier module node inside the same parent (at any depth).
            let previous = modules[..<i].last { p.isEmpty || $0.name.hasPrefix(p + ".") }
            guard let prev = previous, parent(prev.name) == p, prev.op.kind == "conv2d", !merged.contains(prev.name),
                  node.inputs == [prev.name], readers[prev.name] == 1 else { continue }
            merged.insert(prev.name)
            result.append((prev.name, node.name))
        }
        return result
    }

    /// CaBRNet's arithmetic in float32: s = (var + eps)^½, k = γ / s,
    /// W ← W·k, b ← (b − μ)·k + β (b = 0 when the conv had none).
    static func fold(weight w: Tensor, bias b: Tensor?, gamma: Tensor, beta: Tensor, mean: Tensor,
                     variance: Tensor, epsilon: Float) -> (Tensor, Tensor) {
        (foldWeight(w, gamma: gamma, variance: variance, epsilon: epsilon),
         foldBias(b, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon))
    }

    /// k = γ / (var + eps)^½ of output channel `o`.
    @inline(__always)
    static func scale(_ o: Int, gamma: Tensor, variance: Tensor, epsilon: Float) -> Float {
        gamma.data[o] / (variance.data[o] + epsilon).squareRoot()
    }

    /// W·k (per output channel), the folded weight alone.
    static func foldWeight(_ w: Tensor, gamma: Tensor, variance: Tensor, epsilon: Float) -> Tensor {
        let c = gamma.count
        let per = w.count / c
        let newW = Tensor(uninitialized: w.shape)
        let src = w.data, dst = newW.data
        Parallel.forEach(c) { o in
            let k = scale(o, gamma: gamma, variance: variance, epsilon: epsilon)
            for i in 0..<per { dst[o * per + i] = src[o * per + i] * k }
        }
        return newW
    }

    /// (b − μ)·k + β, the folded bias alone.
    static func foldBias(_ b: Tensor?, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor,
                         epsilon: Float) -> Tensor {
        let c = gamma.count
        let newB = Tensor(zeros: [c])
        for o in 0..<c {
            let k = scale(o, gamma: gamma, variance: variance, epsilon: epsilon)
            newB.data[o] = ((b?.data[o] ?? 0) - mean.data[o]) * k + beta.data[o]
        }
        return newB
    }
}
