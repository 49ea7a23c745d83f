import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// BatchNorm and ReLU fused into the convolution's store give exactly the floats of the
/// separate kernels (conv2d, then batchNorm2d, then relu), on every convolution path; a
/// graph's forward without kept activations uses the fusion and a profiled pass records
/// what ran.
final class ConvEpilogueTests: XCTestCase {
    func bn(_ rng: inout TestRandom, _ c: Int) -> (w: Tensor, b: Tensor, mean: Tensor, v: Tensor) {
        let v = Kernels.map(rng.tensor([c])) { 0.5 + abs($0) }
        return (rng.tensor([c]), rng.tensor([c]), rng.tensor([c]), v)
    }

    func testFusedEqualsSeparateOnEveryPath() {
        var rng = TestRandom(seed: 21)
        // (input shape, weight shape, attributes, layout): direct GEMM, pointwise, small
        // map (transposed), depthwise, and Winograd in both orientations.
        let cases: [([Int], [Int], Conv2dAttributes, ConvWeightLayout?)] = [
            ([2, 8, 13, 11], [12, 8, 3, 3], Conv2dAttributes(padding: Pair2(1, 1)), nil),
            ([1, 16, 9, 9], [20, 16, 1, 1], Conv2dAttributes(), nil),
            ([1, 30, 5, 5], [130, 30, 3, 3], Conv2dAttributes(padding: Pair2(1, 1)), .transposed),
            ([2, 6, 8, 8], [6, 1, 3, 3], Conv2dAttributes(padding: Pair2(1, 1), groups: 6), nil),
            ([2, 10, 12, 12], [14, 10, 3, 3], Conv2dAttributes(padding: Pair2(1, 1)), .winograd(m: 4, tilesAsRows: false)),
            ([2, 10, 7, 7], [40, 10, 3, 3], Conv2dAttributes(padding: Pair2(1, 1)), .winograd(m: 2, tilesAsRows: true)),
        ]
        for (xs, ws, a, layout) in cases {
            let x = rng.tensor(xs), w = rng.tensor(ws), b = rng.tensor([ws[0]])
            let p = bn(&rng, ws[0])
            let packed = layout.map { PackedConvWeights(weight: w, groups: a.groups, layout: $0) }
            let z = Kernels.conv2d(x, weight: w, bias: b, a, packedWeights: packed)
            let y = Kernels.batchNorm2d(z, weight: p.w, bias: p.b, mean: p.mean, variance: p.v, epsilon: 1e-5)
            for relu in [false, true] {
                let ep = ConvEpilogue(batchNorm: p.w, bias: p.b, mean: p.mean, variance: p.v, epsilon: 1e-5, relu: relu)
                let fused = Kernels.conv2d(x, weight: w, bias: b, a, packedWeights: packed, epilogue: ep)
                XCTAssertEqual(fused.values, (relu ? Kernels.relu(y) : y).values, "\(xs) \(ws) \(String(describing: layout)) relu \(relu)")
            }
            let reluOnly = Kernels.conv2d(x, weight: w, bias: b, a, packedWeights: packed, epilogue: ConvEpilogue(relu: true))
            XCTAssertEqual(reluOnly.values, Kernels.relu(z).values, "relu only \(xs) \(ws)")
        }
    }

    func testGraphForwardFusesAndProfiles() throws {
        var rng = TestRandom(seed: 22)
        let w1 = rng.tensor([16, 3, 3, 3]), b1 = rng.tensor([16]), w2 = rng.tensor([16, 16, 3, 3])
        let p = bn(&rng, 16)
        let g = try Graph(
            inputs: [ValueInfo(name: "x", shape: [1, 3, 20, 20])],
            nodes: [Node(name: "c1", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["x"], parameters: ["weight": "w1", "bias": "b1"]),
                    Node(name: "bn", op: .batchNorm2d(epsilon: 1e-5), inputs: ["c1"],
                         parameters: ["weight": "g", "bias": "be", "running_mean": "m", "running_var": "v"]),
                    Node(name: "r", op: .relu, inputs: ["bn"]),
                    Node(name: "c2", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["r"], parameters: ["weight": "w2"]),
                    Node(name: "r2", op: .relu, inputs: ["c2"]),
                    Node(name: "out", op: .add, inputs: ["r2", "r"])],
            outputs: ["out"],
            parameters: ["w1": w1, "b1": b1, "w2": w2, "g": p.w, "be": p.b, "m": p.mean, "v": p.v])
        let fusions = g.convEpilogueFusions()
        // r is read twice, but only r reads bn: the fused conv produces r itself.
        XCTAssertEqual(fusions["c1"]?.absorbed, ["bn", "r"])
        XCTAssertEqual(fusions["c1"]?.output, "r")
        XCTAssertEqual(fusions["c2"]?.absorbed, ["r2"])
        XCTAssertEqual(fusions.count, 2)
        let x = rng.tensor([1, 3, 20, 20])
        let kept = try g.forward([x], keepActivations: true)
        let profile = PassProfile()
        let fast = try g.forward([x], profile: profile)
        XCTAssertEqual(fast.outputs[0].values, kept.outputs[0].values)
        XCTAssertEqual(profile.entries.map(\.node), ["c1", "c2", "out"], "absorbed nodes do not run")
        XCTAssertEqual(profile.entries[0].convolutions.count, 1)
        XCTAssertEqual(profile.entries[0].convolutions[0].flops, 2.0 * 16 * 400 * 27)
        XCTAssertTrue(profile.entries.allSatisfy { $0.seconds >= 0 && $0.phase == "forward" })
        XCTAssertNil(ConvolutionLog.active, "no convolution is recorded outside a profiled node")
    }
}
