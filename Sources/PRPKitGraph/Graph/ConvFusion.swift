/// Convolutions followed by elementwise work that can run in the convolution's store.
extension Graph {
    /// A conv2d whose output only feeds an eval batch_norm2d and/or a relu (the values in
    /// between neither graph outputs, nor read by another node, nor kept): the chain's last
    /// value is computed by the convolution with `epilogue`, and the `absorbed` nodes are
    /// not run.
    package struct FusedConv {
        let output: String
        let absorbed: [String]
        let epilogue: ConvEpilogue
    }

    /// The fusions a forward pass keeping the values `kept` may use, by conv node name.
    package func convEpilogueFusions(keeping kept: Set<String> = []) -> [String: FusedConv] {
        var consumers: [String: [Node]] = [:]
        for node in nodes { for input in node.inputs { consumers[input, default: []].append(node) } }
        let outputSet = Set(outputs)
        // The single node reading `value` once, when `value` is not a graph output.
        func soleConsumer(_ value: String) -> Node? {
            guard !outputSet.contains(value), !kept.contains(value), let c = consumers[value], c.count == 1,
                  c[0].inputs == [value] else { return nil }
            return c[0]
        }
        var fusions: [String: FusedConv] = [:]
        for node in nodes {
            guard case .conv2d = node.op, var next = soleConsumer(node.name) else { continue }
            var absorbed: [String] = [], epilogue = ConvEpilogue()
            if case .batchNorm2d(let eps) = next.op, let w = parameter(next, "weight"), let b = parameter(next, "bias"),
               let mean = parameter(next, "running_mean"), let v = parameter(next, "running_var") {
                epilogue = ConvEpilogue(batchNorm: w, bias: b, mean: mean, variance: v, epsilon: eps, relu: false)
                absorbed.append(next.name)
                guard let after = soleConsumer(next.name) else {
                    fusions[node.name] = FusedConv(output: next.name, absorbed: absorbed, epilogue: epilogue)
                    continue
                }
                next = after
            }
            if case .relu = next.op {
                epilogue.relu = true
                absorbed.append(next.name)
            }
            if let last = absorbed.last { fusions[node.name] = FusedConv(output: last, absorbed: absorbed, epilogue: epilogue) }
        }
        return fusions
    }
}
