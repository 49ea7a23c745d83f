import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Each rule's backward on a single layer against its textbook matrix form, written
/// independently of the graph engine (the layer as an explicit matrix A with z = A·x + b).
/// Tolerance: both sides sum the same products in different orders in float32; with
/// |terms| ≤ ~10 and ≤ 64 terms the rounding gap stays below 1e-5 relative to max|R|.
final class RuleMatrixFormTests: XCTestCase {
    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int32(truncatingIfNeeded: state >> 33)) / Float(Int32.max)
        }
    }

    func linearGraph(_ w: [Float], _ b: [Float], out: Int, in k: Int) throws -> Graph {
        try Graph(inputs: [ValueInfo(name: "x", shape: [1, k])],
                  nodes: [Node(name: "fc", op: .linear, inputs: ["x"], parameters: ["weight": "w", "bias": "b"])],
                  outputs: ["fc"],
                  parameters: ["w": try Tensor(shape: [out, k], values: w), "b": try Tensor(shape: [out], values: b)])
    }

    /// R_x = x ⊙ A'ᵀ [e_t / (z'_t + ε·sign0(z'_t))] · z_t, the Captum form for one layer.
    func matrixForm(a: [Float], aPrime: [Float], bPrime: [Float], x: [Float], out: Int, target: Int,
                    bias: [Float], epsilon: Float) -> [Float] {
        let k = x.count
        var zPrime: Float = bPrime[target], z: Float = bias[target]
        for i in 0..<k { zPrime += aPrime[target * k + i] * x[i]; z += a[target * k + i] * x[i] }
        let den = zPrime + (zPrime < 0 ? -epsilon : epsilon)
        return (0..<k).map { i in x[i] * aPrime[target * k + i] / den * z }
    }

    func check(rule: Rule, transform: (Float) -> Float, zeroBias: Bool) throws {
        var rng = Rng(state: 42)
        let (out, k) = (5, 7)
        let w = (0..<out * k).map { _ in rng.next() }
        let b = (0..<out).map { _ in rng.next() * 0.1 }
        let x = (0..<k).map { _ in rng.next() }
        let graph = try linearGraph(w, b, out: out, in: k)
        let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["fc": rule]))
        for target in 0..<out {
            let result = try lrp.attribute([try Tensor(shape: [1, k], values: x)], targets: [[target]])
            let expected = matrixForm(a: w, aPrime: w.map(transform), bPrime: zeroBias ? b.map { _ in 0 } : b,
                                      x: x, out: out, target: target, bias: b, epsilon: rule.definition.hook!.epsilon)
            let got = result.relevance[0].values
            let scale = max(expected.map(abs).max()!, 1e-6)
            for i in 0..<k {
                XCTAssertEqual(got[i], expected[i], accuracy: 1e-5 * scale, "\(rule) target \(target) i \(i)")
            }
            let total = got.reduce(0, +)
            XCTAssertEqual(result.convergenceDelta[0], result.scores[0] - total, accuracy: 1e-6 * max(1, abs(total)))
        }
    }

    func testEpsilonRule() throws { try check(rule: .epsilon(1e-9), transform: { $0 }, zeroBias: false) }
    func testLargeEpsilon() throws { try check(rule: .epsilon(0.5), transform: { $0 }, zeroBias: false) }
    func testGammaRule() throws { try check(rule: .gamma(0.25), transform: { $0 + 0.25 * max($0, 0) }, zeroBias: false) }
    func testGammaRuleZeroBias() throws {
        try check(rule: .gamma(0.5, setBiasToZero: true), transform: { $0 + 0.5 * max($0, 0) }, zeroBias: true)
    }
    func testAlpha1Beta0Rule() throws { try check(rule: .alpha1Beta0(), transform: { max($0, 0) }, zeroBias: false) }
    func testAlpha1Beta0RuleZeroBias() throws {
        try check(rule: .alpha1Beta0(setBiasToZero: true), transform: { max($0, 0) }, zeroBias: true)
    }

    /// IdentityRule on a layer whose input hook it owns: the input receives the output's
    /// signal unchanged (then × the score).
    func testIdentityRulePassesSignal() throws {
        let c = 3
        let graph = try Graph(
            inputs: [ValueInfo(name: "x", shape: [1, c, 2, 2])],
            nodes: [Node(name: "bn", op: .batchNorm2d(epsilon: 1e-5), inputs: ["x"],
                         parameters: ["weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"])],
            outputs: ["bn"],
            parameters: ["g": try Tensor(shape: [c], values: [2, 3, 4]), "b": try Tensor(shape: [c], values: [0.1, 0.2, 0.3]),
                         "m": try Tensor(shape: [c], values: [0, 1, 2]), "v": try Tensor(shape: [c], values: [1, 2, 3])])
        let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["bn": .identity()]))
        let x = try Tensor(shape: [1, c, 2, 2], values: (0..<12).map { Float($0) * 0.5 - 2 })
        let r = try lrp.attribute([x], targets: [[1, 0, 1]])
        var expected = [Float](repeating: 0, count: 12)
        expected[1 * 4 + 1] = r.scores[0]
        XCTAssertEqual(r.relevance[0].values, expected)
    }

    /// A conv layer with Alpha1_Beta0 against its explicit matrix (built by probing the
    /// forward kernel with unit vectors, so the transposed-conv kernel is not used).
    func testConvAlpha1Beta0AgainstDenseMatrix() throws {
        var rng = Rng(state: 7)
        let attrs = Conv2dAttributes(stride: Pair2(2, 1), padding: Pair2(1, 0), dilation: Pair2(1, 2), groups: 1)
        let (c, h, w, co) = (2, 5, 6, 3)
        let weight = try Tensor(shape: [co, c, 3, 2], values: (0..<(co * c * 6)).map { _ in rng.next() })
        let bias = try Tensor(shape: [co], values: [0.1, -0.2, 0.05])
        let graph = try Graph(
            inputs: [ValueInfo(name: "x", shape: [1, c, h, w])],
            nodes: [Node(name: "conv", op: .conv2d(attrs), inputs: ["x"], parameters: ["weight": "w", "bias": "b"])],
            outputs: ["conv"], parameters: ["w": weight, "b": bias])
        let outShape = graph.shapes["conv"]!
        let m = outShape.dropFirst().reduce(1, *), k = c * h * w
        let wPlus = Kernels.map(weight) { max($0, 0) }
        func dense(_ wt: Tensor) -> [Float] {
            var a = [Float](repeating: 0, count: m * k)
            for i in 0..<k {
                let e = Tensor(zeros: [1, c, h, w]); e.data[i] = 1
                let col = Kernels.conv2d(e, weight: wt, bias: nil, attrs)
                for j in 0..<m { a[j * k + i] = col.data[j] }
            }
            return a
        }
        let a = dense(weight), aPlus = dense(wPlus)
        let x = (0..<k).map { _ in rng.next() }
        let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["conv": .alpha1Beta0()]))
        for flat in [0, 5, m - 1] {
            let target = [flat / (outShape[2] * outShape[3]), (flat / outShape[3]) % outShape[2], flat % outShape[3]]
            let r = try lrp.attribute([try Tensor(shape: [1, c, h, w], values: x)], targets: [target])
            let bFull = (0..<m).map { bias.data[$0 / (outShape[2] * outShape[3])] }
            let expected = matrixForm(a: a, aPrime: aPlus, bPrime: bFull, x: x, out: m, target: flat, bias: bFull, epsilon: 1e-9)
            let scale = max(expected.map(abs).max()!, 1e-6)
            for i in 0..<k { XCTAssertEqual(r.relevance[0].data[i], expected[i], accuracy: 1e-5 * scale, "target \(target) i \(i)") }
        }
    }

    /// K start relevances in one batched backward equal K separate propagations.
    func testBatchedStartRelevancesEqualSeparateCalls() throws {
        var rng = Rng(state: 3)
        let graph = try Graph(
            inputs: [ValueInfo(name: "x", shape: [2, 2, 6, 6])],
            nodes: [
                Node(name: "c1", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["x"], parameters: ["weight": "w1"]),
                Node(name: "r1", op: .relu, inputs: ["c1"]),
                Node(name: "p1", op: .maxPool2d(MaxPool2dAttributes(kernel: Pair2(2, 2))), inputs: ["r1"]),
                Node(name: "c2", op: .conv2d(Conv2dAttributes()), inputs: ["p1"], parameters: ["weight": "w2", "bias": "b2"]),
            ],
            outputs: ["c2"],
            parameters: ["w1": try Tensor(shape: [4, 2, 3, 3], values: (0..<72).map { _ in rng.next() }),
                         "w2": try Tensor(shape: [3, 4, 3, 3], values: (0..<108).map { _ in rng.next() }),
                         "b2": try Tensor(shape: [3], values: [0.1, 0.2, -0.1])])
        let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["c1": .gamma(0.3), "c2": .epsilon(0.01)]))
        let x = try Tensor(shape: [2, 2, 6, 6], values: (0..<144).map { _ in rng.next() })
        let k = 3, outRow = 3 * 1 * 1
        let starts = (0..<(2 * k * outRow)).map { _ in rng.next() }
        let batched = try lrp.propagate([x], start: try Tensor(shape: [2 * k, 3, 1, 1], values: starts))[0]
        let rowIn = 2 * 6 * 6
        for j in 0..<k {
            var single = [Float]()
            for n in 0..<2 { single += Array(starts[((n * k + j) * outRow)..<((n * k + j + 1) * outRow)]) }
            let separate = try lrp.propagate([x], start: try Tensor(shape: [2, 3, 1, 1], values: single))[0]
            for n in 0..<2 {
                for i in 0..<rowIn {
                    XCTAssertEqual(batched.data[(n * k + j) * rowIn + i], separate.data[n * rowIn + i],
                                   accuracy: 1e-6 * max(1, abs(separate.data[n * rowIn + i])))
                }
            }
        }
    }
}

/// The PRP composite's own rules on one conv layer, against their matrix forms.
final class CompositeRuleMatrixFormTests: XCTestCase {
    func dense(_ w: Tensor, _ a: Conv2dAttributes, inShape: [Int]) -> (matrix: [Float], rows: Int) {
        let k = Tensor.elementCount(inShape)
        var cols: [[Float]] = []
        for i in 0..<k {
            let e = Tensor(zeros: inShape); e.data[i] = 1
            cols.append(Kernels.conv2d(e, weight: w, bias: nil, a).values)
        }
        let m = cols[0].count
        var out = [Float](repeating: 0, count: m * k)
        for i in 0..<k { for j in 0..<m { out[j * k + i] = cols[i][j] } }
        return (out, m)
    }

    /// z^B with per-channel bounds (the corrected composite) and CaBRNet's α1β0 with x⁻.
    func testZBetaPerChannelAndAlpha1Beta0() throws {
        let inShape = [1, 2, 5, 4]
        let k = Tensor.elementCount(inShape)
        let a = Conv2dAttributes(padding: Pair2(1, 1))
        let wv: [Float] = (0..<(3 * 2 * 9)).map { Float(($0 * 37) % 17) / 8 - 1 }
        let w = try Tensor(shape: [3, 2, 3, 3], values: wv)
        let xv: [Float] = (0..<k).map { Float(($0 * 13) % 11) / 5 - 1 }
        let (A, m) = dense(w, a, inShape: inShape)
        let Ap = A.map { max($0, 0) }, An = A.map { min($0, 0) }
        let lower: [Float] = [-2, -1.5], upper: [Float] = [2.5, 1]
        let per = 20
        let l = (0..<k).map { lower[$0 / per] }, u = (0..<k).map { upper[$0 / per] }
        for (rule, name) in [(Rule.zBeta(channelLowerBounds: lower, channelUpperBounds: upper), "zbeta"),
                             (Rule.prpAlpha1Beta0(), "alpha1beta0")] {
            let graph = try Graph(inputs: [ValueInfo(name: "x", shape: inShape)],
                                  nodes: [Node(name: "c", op: .conv2d(a), inputs: ["x"], parameters: ["weight": "w"])],
                                  outputs: ["c"], parameters: ["w": w])
            let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["c": rule]))
            for t in [0, 7, m - 1] {
                let target = [t / 20, (t / 4) % 5, t % 4]
                let r = try lrp.attribute([try Tensor(shape: inShape, values: xv)], targets: [target])
                func row(_ M: [Float], _ v: [Float]) -> Float { (0..<k).reduce(0) { $0 + M[t * k + $1] * v[$1] } }
                var expected = [Float](repeating: 0, count: k)
                if name == "zbeta" {
                    let z = row(A, xv) - row(Ap, l) - row(An, u)
                    let n = r.scores[0] / (z + (z < 0 ? -1e-6 : 1e-6))
                    for i in 0..<k { expected[i] = xv[i] * A[t * k + i] * n - l[i] * Ap[t * k + i] * n - u[i] * An[t * k + i] * n }
                } else {
                    let xp = xv.map { max($0, 0) }, xn = xv.map { min($0, 0) }
                    let z = row(Ap, xp) + row(An, xn)
                    let n = r.scores[0] / (z + (z > 0 ? 1e-6 : (z < 0 ? -1e-6 : 1e-12)))
                    for i in 0..<k { expected[i] = xp[i] * Ap[t * k + i] * n + xn[i] * An[t * k + i] * n }
                }
                let scale = max(expected.map(abs).max()!, 1e-6)
                for i in 0..<k {
                    XCTAssertEqual(r.relevance[0].data[i], expected[i], accuracy: 1e-5 * scale, "\(name) target \(target) i \(i)")
                }
            }
        }
    }

    /// StackedSum: CaBRNet's ε·[o = 0] and the corrected ε·sign0(o).
    func testStackedSum() throws {
        let graph = try Graph(inputs: [ValueInfo(name: "a", shape: [1, 4]), ValueInfo(name: "b", shape: [1, 4])],
                              nodes: [Node(name: "s", op: .add, inputs: ["a", "b"])], outputs: ["s"], parameters: [:])
        let a: [Float] = [1, -2, 0.5, 0], b: [Float] = [2, 1, -0.5, 0]
        for onSign in [false, true] {
            let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["s": .stackedSum(stabilityFactor: 0.1, epsilonOnSign: onSign)]))
            let start = try Tensor(shape: [1, 4], values: [1, 1, 1, 1])
            let r = try lrp.propagate([try Tensor(shape: [1, 4], values: a), try Tensor(shape: [1, 4], values: b)], start: start)
            for i in 0..<4 {
                let o = a[i] + b[i]
                let d = onSign ? o + (o < 0 ? -0.1 : 0.1) : (o == 0 ? 0.1 : o)
                XCTAssertEqual(r[0].data[i], a[i] / d, accuracy: 1e-6)
                XCTAssertEqual(r[1].data[i], b[i] / d, accuracy: 1e-6)
            }
        }
    }
}
