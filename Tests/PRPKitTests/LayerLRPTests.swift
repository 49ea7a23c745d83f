import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Captum's LayerLRP on fc1 → relu → fc2 (ε rules), against its matrix form: the signal
/// Captum's hooks record at a tensor, times the target score s. At fc1's output (and at
/// fc2's input, the same value after the pass-through ReLU) it is
/// R_j = relu(z1)_j · W2[t, j] / (z2_t + ε·sign0(z2_t)) · s; at fc1's input it is LRP's
/// input relevance. Tolerance 1e-5 relative (float32, a handful of terms).
final class LayerLRPTests: XCTestCase {
    let w1: [Float] = [0.5, -0.2, 0.3, 0.1, 0.4, -0.6, -0.3, 0.8, 0.2, 0.7, 0.1, 0.5]  // (4, 3)
    let b1: [Float] = [0.1, -0.05, 0.2, 0]
    let w2: [Float] = [0.6, -0.4, 0.3, 0.9, -0.2, 0.5, 0.7, -0.1]  // (2, 4)
    let x: [Float] = [0.9, -0.3, 0.6]

    func lrp() throws -> LRP {
        let graph = try Graph(
            inputs: [ValueInfo(name: "x", shape: [1, 3])],
            nodes: [Node(name: "fc1", op: .linear, inputs: ["x"], parameters: ["weight": "w1", "bias": "b1"]),
                    Node(name: "relu", op: .relu, inputs: ["fc1"]),
                    Node(name: "fc2", op: .linear, inputs: ["relu"], parameters: ["weight": "w2"])],
            outputs: ["fc2"],
            parameters: ["w1": try Tensor(shape: [4, 3], values: w1), "b1": try Tensor(shape: [4], values: b1),
                         "w2": try Tensor(shape: [2, 4], values: w2)])
        return try LRP(graph: graph, rules: RuleSet(byNode: ["fc2": .epsilon(0.01)]))
    }

    func testMatrixForm() throws {
        let lrp = try lrp()
        let input = try Tensor(shape: [1, 3], values: x)
        var a = [Float](repeating: 0, count: 4)
        for j in 0..<4 {
            var z: Float = b1[j]
            for i in 0..<3 { z += w1[j * 3 + i] * x[i] }
            a[j] = max(0, z)
        }
        for t in 0..<2 {
            var z2: Float = 0
            for j in 0..<4 { z2 += w2[t * 4 + j] * a[j] }
            let den: Float = z2 + (z2 < 0 ? -0.01 : 0.01)
            var expected = [Float](repeating: 0, count: 4)
            for j in 0..<4 { expected[j] = a[j] * w2[t * 4 + j] / den * z2 }
            let out = try lrp.attributeLayers([input], targets: [[t]], layers: ["fc1"], side: .output)
            let inSide = try lrp.attributeLayers([input], targets: [[t]], layers: ["fc2", "fc1"], side: .input)
            let scale = expected.map(abs).max()!
            for j in 0..<4 {
                XCTAssertEqual(out.relevance[0].values[j], expected[j], accuracy: 1e-5 * scale, "t \(t) j \(j)")
            }
            XCTAssertEqual(inSide.relevance[0].values, out.relevance[0].values)
            XCTAssertEqual(inSide.relevance[1].values, try lrp.attribute([input], targets: [[t]]).relevance[0].values)
            XCTAssertEqual(out.scores[0], z2, accuracy: 1e-6)
            XCTAssertEqual(out.convergenceDelta[0][0], z2 - out.relevance[0].values.reduce(0, +), accuracy: 1e-6)
            // The model output itself: the start signal, one-hot at t, times s.
            let top = try lrp.attributeLayers([input], targets: [[t]], layers: ["fc2"], side: .output)
            XCTAssertEqual(top.relevance[0].values, (0..<2).map { $0 == t ? z2 : 0 })
        }
    }

    func testLayersCaptumHasNoRelevanceForAreErrors() throws {
        let lrp = try lrp()
        let input = try Tensor(shape: [1, 3], values: x)
        for (layer, side, message) in [("relu", LRP.LayerSide.output, "only on layers with an LRP rule"), ("nope", .output, "no node"),
                                       ("relu", .input, "only on layers with an LRP rule")] {
            XCTAssertThrowsError(try lrp.attributeLayers([input], targets: [[0]], layers: [layer], side: side)) {
                XCTAssertTrue("\($0)".contains(message), "\(layer) \(side): \($0)")
            }
        }
        XCTAssertThrowsError(try lrp.attributeLayers([input], targets: [[0]], layers: [], side: .output))
    }
}
