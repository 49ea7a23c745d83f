#if canImport(Glibc)
import Glibc
#endif

extension RelevancePropagator {
    /// The ordinary backward of `node` for signal `g` (B rows, B a multiple of the
    /// forward batch), with the rule's parameters in `overrides`. One entry per node
    /// input; nil where no signal flows. Reads values only for relu (its output), sigmoid,
    /// tanh, the other activations, layer norm, mul and the prototype head's ops (their
    /// inputs; `forwardNeeds` keeps those); every other op needs only the input shapes.
    func vectorJacobian(_ node: Node, _ g: Tensor, state: ForwardState,
                        overrides: [String: Tensor?]) throws -> [Tensor?] {
        let shapes = node.inputs.map { state.shapes[$0]! }
        func parameter(_ role: String) -> Tensor? {
            if let o = overrides[role] { return o }
            return graph.parameter(node, role)
        }
        let rows = g.shape[0]
        func spatial(_ shape: [Int]) -> Pair2 { Pair2(shape[2], shape[3]) }
        switch node.op {
        case .conv2d:
            return [layerInputGradient(node, g, weight: { parameter("weight")! }, inputShape: shapes[0], keepsFlipped: true,
                                       signDefinite: rules[node.name]??.definition.hook?.signDefiniteWeight == true,
                                       graphWeightSign: overrides["weight"] == nil ? 0 : nil)]
        case .linear:
            return [Kernels.linearInputGradient(g, weight: parameter("weight")!)]
        case .maxPool2d:
            let idx = state.maxPoolIndices[node.name]!
            return [idx.withUnsafeBufferPointer {
                Kernels.maxPool2dInputGradient(g, indices: $0.baseAddress!, forwardBatch: state.batch,
                                               inputSize: spatial(shapes[0]))
            }]
        case .avgPool2d(let a):
            return [Kernels.avgPool2dInputGradient(g, a, inputSize: spatial(shapes[0]))]
        case .adaptiveAvgPool2d:
            return [Kernels.adaptiveAvgPool2dInputGradient(g, inputSize: spatial(shapes[0]))]
        case .batchNorm2d(let eps):
            let w = parameter("weight")!, v = parameter("running_var")!
            let c = w.count, hw = g.count / (rows * c)
            let out = Tensor(zeros: g.shape)
            let gp = g.data, op = out.data
            Parallel.forRanges(rows * c) { planes in
                for plane in planes {
                    let ch = plane % c
                    let alpha = (1 / (v.data[ch] + eps).squareRoot()) * w.data[ch]
                    for i in 0..<hw { op[plane * hw + i] = gp[plane * hw + i] * alpha }
                }
            }
            return [out]
        case .relu:
            let mask = Kernels.map(state.activation(node.name)) { $0 > 0 ? 1 : 0 }
            return [Kernels.rowBroadcast(g, mask)]
        case .sigmoid:
            let d = Kernels.map(state.activation(node.inputs[0])) { v in let s = 1 / (1 + expf(-v)); return s * (1 - s) }
            return [Kernels.rowBroadcast(g, d)]
        case .tanh:
            let d = Kernels.map(state.activation(node.inputs[0])) { v in let t = tanhf(v); return 1 - t * t }
            return [Kernels.rowBroadcast(g, d)]
        case .activation(let a):
            return [Kernels.rowBroadcast(g, Kernels.activationDerivative(state.activation(node.inputs[0]), a))]
        case .layerNorm(let eps):
            return [Kernels.layerNormChannelsInputGradient(g, input: state.activation(node.inputs[0]),
                                                           weight: parameter("weight")!, epsilon: eps)]
        case .channelScale:
            return [Kernels.channelScale(g, parameter("weight")!)]
        case .softmax:
            return [Kernels.softmaxChannelsInputGradient(g, output: state.activation(node.name))]
        case .mul:
            // d(a·b)/da = b, d(a·b)/db = a; a per-channel gate's gradient sums over the pixels.
            let operands = node.inputs.map(state.activation), k = rows / state.batch
            return (0..<2).map { i in
                let own = shapes[i], other = operands[1 - i]
                if own == other.shape { return Kernels.rowBroadcast(g, other) }
                if own.dropFirst().reduce(1, *) > other.shape.dropFirst().reduce(1, *) {
                    return Kernels.planeScale(g, other, rowsPerGate: k)
                }
                return Kernels.planeDot(g, other, gateShape: own)
            }
        case .dropout:
            return [g]
        case .add:
            return [g, g.copy()]
        case .flatten, .reshape:
            return [try g.reshaped([rows] + Array(shapes[0].dropFirst()))]
        case .concat(let axis):
            let ax = axis < 0 ? axis + g.rank : axis
            var offset = 0
            return shapes.map { part in
                var shape = g.shape
                shape[ax] = part[ax]
                let out = Tensor(zeros: shape)
                let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
                let row = part[ax] * inner, rowIn = g.shape[ax] * inner
                for o in 0..<outer {
                    (out.data + o * row).update(from: g.data + o * rowIn + offset * inner, count: row)
                }
                offset += part[ax]
                return out
            }
        case .l2Distance:
            return [Kernels.l2DistanceInputGradient(g, features: state.activation(node.inputs[0]), prototypes: parameter("prototypes")!)]
        case .logSimilarity(let eps):
            return [Kernels.logSimilarityInputGradient(g, distances: state.activation(node.inputs[0]), epsilon: eps)]
        case .expSimilarity(let eps, let logp):
            return [Kernels.expSimilarityInputGradient(g, distances: state.activation(node.inputs[0]), epsilon: eps, logProbabilities: logp)]
        case .spatialMin, .spatialMax:
            throw PRPKitError.unsupported(
                "node '\(node.name)' (\(node.op.kind)): no ordinary backward yet; give it a prototype-layer rule")
        }
    }
}
