/// Output shape of each op for given input and parameter shapes. Every check that a
/// kernel relies on for memory safety is made here, before any kernel runs.
package enum ShapeInference {
    static package func fail(_ node: String, _ message: String) -> PRPKitError {
        .invalidArgument("node '\(node)': \(message)")
    }

    static package func outputShape(of node: Node, inputs: [[Int]], parameters: [String: [Int]]) throws -> [Int] {
        let name = node.name
        func image(_ s: [Int]) throws -> (Int, Int, Int, Int) {
            guard s.count == 4 else { throw fail(name, "\(node.op.kind) expects a 4-D (N, C, H, W) input, got \(s)") }
            return (s[0], s[1], s[2], s[3])
        }
        func positive(_ s: [Int]) throws -> [Int] {
            guard s.allSatisfy({ $0 > 0 }) else { throw fail(name, "\(node.op.kind) gives an empty output \(s)") }
            return s
        }
        switch node.op {
        case .conv2d(let a):
            let (n, c, h, w) = try image(inputs[0])
            guard let ws = parameters["weight"], ws.count == 4 else { throw fail(name, "conv2d weight must be 4-D") }
            guard a.groups >= 1, c % a.groups == 0, ws[0] % a.groups == 0 else {
                throw fail(name, "groups \(a.groups) must divide input channels \(c) and output channels \(ws[0])")
            }
            guard ws[1] == c / a.groups else {
                throw fail(name, "weight \(ws) expects \(ws[1] * a.groups) input channels, input has \(c)")
            }
            if let b = parameters["bias"], b != [ws[0]] { throw fail(name, "bias \(b) must be [\(ws[0])]") }
            let oh = Kernels.windowExtent(h, kernel: ws[2], stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: false)
            let ow = Kernels.windowExtent(w, kernel: ws[3], stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: false)
            return try positive([n, ws[0], oh, ow])
        case .linear:
            let s = inputs[0]
            guard let ws = parameters["weight"], ws.count == 2 else { throw fail(name, "linear weight must be 2-D") }
            guard s.count == 2, s[1] == ws[1] else { throw fail(name, "linear expects (N, \(ws[1])), got \(s)") }
            if let b = parameters["bias"], b != [ws[0]] { throw fail(name, "bias \(b) must be [\(ws[0])]") }
            return [s[0], ws[0]]
        case .maxPool2d(let a):
            let (n, c, h, w) = try image(inputs[0])
            guard a.padding.h * 2 <= a.kernel.h, a.padding.w * 2 <= a.kernel.w else {
                throw fail(name, "padding must be at most half the kernel size")
            }
            let oh = Kernels.windowExtent(h, kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: a.ceilMode)
            let ow = Kernels.windowExtent(w, kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: a.ceilMode)
            return try positive([n, c, oh, ow])
        case .avgPool2d(let a):
            let (n, c, h, w) = try image(inputs[0])
            guard a.padding.h * 2 <= a.kernel.h, a.padding.w * 2 <= a.kernel.w else {
                throw fail(name, "padding must be at most half the kernel size")
            }
            let oh = Kernels.windowExtent(h, kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: 1, ceilMode: a.ceilMode)
            let ow = Kernels.windowExtent(w, kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: 1, ceilMode: a.ceilMode)
            return try positive([n, c, oh, ow])
        case .adaptiveAvgPool2d(let o):
            let (n, c, h, w) = try image(inputs[0])
            guard h > 0, w > 0 else { throw fail(name, "adaptive pooling of an empty input") }
            return [n, c, o.h, o.w]
        case .batchNorm2d:
            let (_, c, _, _) = try image(inputs[0])
            for role in ["weight", "bias", "running_mean", "running_var"] where parameters[role] != [c] {
                throw fail(name, "batch_norm2d \(role) must be [\(c)], got \(parameters[role] ?? [])")
            }
            return inputs[0]
        case .relu, .sigmoid, .tanh, .activation, .dropout:
            return inputs[0]
        case .layerNorm, .channelScale:
            let s = inputs[0]
            guard s.count >= 2 else { throw fail(name, "\(node.op.kind) needs (N, C, …), got \(s)") }
            for role in node.op.parameterRoles.required where parameters[role] != [s[1]] {
                throw fail(name, "\(node.op.kind) \(role) must be [\(s[1])], got \(parameters[role] ?? [])")
            }
            return s
        case .softmax:
            guard inputs[0].count >= 2 else { throw fail(name, "softmax needs (N, C, …), got \(inputs[0])") }
            return inputs[0]
        case .mul:
            guard let out = Kernels.multiplyShape(inputs[0], inputs[1]) else {
                throw fail(name, "mul needs equal shapes or (N, C, H, W) and a per-channel (N, C, 1, 1), got \(inputs[0]) and \(inputs[1])")
            }
            return out
        case .add:
            guard inputs[0] == inputs[1] else { throw fail(name, "add needs equal shapes, got \(inputs[0]) and \(inputs[1])") }
            return inputs[0]
        case .flatten(let start, let end):
            let s = inputs[0]
            let r = s.count
            let a = start < 0 ? start + r : start, b = end < 0 ? end + r : end
            guard r > 0, a >= 0, b < r, a <= b else { throw fail(name, "flatten dims \(start)...\(end) invalid for rank \(r)") }
            let merged = try ShapeMath.count(Array(s[a...b]), "node '\(name)': flatten of \(s)")
            return Array(s[..<a]) + [merged] + Array(s[(b + 1)...])
        case .reshape(let target):
            let s = inputs[0]
            guard !s.isEmpty else { throw fail(name, "reshape needs a batch dimension") }
            let total = try ShapeMath.count(Array(s.dropFirst()), "node '\(name)': reshape input \(s)")
            let known = target.filter { $0 != -1 }
            guard target.filter({ $0 == -1 }).count <= 1, known.allSatisfy({ $0 > 0 }) else {
                throw fail(name, "reshape target \(target) may hold positive sizes and at most one -1")
            }
            guard let knownProduct = ShapeMath.product(known) else {
                throw fail(name, "reshape target \(target) has more than \(ShapeMath.maxElements) elements")
            }
            var out = target
            if let i = target.firstIndex(of: -1) {
                guard total % knownProduct == 0 else { throw fail(name, "cannot reshape \(s) to [N] + \(target)") }
                out[i] = total / knownProduct
            } else if knownProduct != total {
                throw fail(name, "cannot reshape \(s) to [N] + \(target)")
            }
            return [s[0]] + out
        case .concat(let axis):
            guard let first = inputs.first else { throw fail(name, "concat needs at least one input") }
            let r = first.count
            let ax = axis < 0 ? axis + r : axis
            guard ax >= 0, ax < r else { throw fail(name, "concat axis \(axis) invalid for rank \(r)") }
            var out = first
            for s in inputs.dropFirst() {
                guard s.count == r, (0..<r).allSatisfy({ $0 == ax || s[$0] == first[$0] }) else {
                    throw fail(name, "concat inputs \(first) and \(s) differ outside axis \(ax)")
                }
                out[ax] = try ShapeMath.sum(out[ax], s[ax], "node '\(name)': concat along axis \(ax)")
            }
            return out
        case .l2Distance:
            let (n, d, h, w) = try image(inputs[0])
            guard let p = parameters["prototypes"], p.count == 2 || (p.count == 4 && p[2] == 1 && p[3] == 1),
                  p[1] == d else {
                throw fail(name, "prototypes must be (P, \(d)) or (P, \(d), 1, 1), got \(parameters["prototypes"] ?? [])")
            }
            return [n, p[0], h, w]
        case .logSimilarity, .expSimilarity:
            return inputs[0]
        case .spatialMin, .spatialMax:
            let (n, c, h, w) = try image(inputs[0])
            guard h > 0, w > 0 else { throw fail(name, "spatial reduction of an empty input") }
            return [n, c]
        }
    }
}
