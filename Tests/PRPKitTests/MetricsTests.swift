import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Relevance metrics (Explain/Metrics.swift) against hand-computed cases.
final class MetricsTests: XCTestCase {
    func t(_ shape: [Int], _ v: [Float]) throws -> Tensor { try Tensor(shape: shape, values: v) }

    func testPointingGameHandComputed() throws {
        let r = try t([2, 2], [1, 2, 3, 4]), m = try t([2, 2], [0, 1, 0, 1])
        // energy (2 + 4) / 10; a = 0.5: threshold sorted[2] = 3, selected {4} inside → 1
        var pg = try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 0.5)
        XCTAssertEqual(pg, [.init(energy: 0.6, maskRelevance: 1)])
        // a = 1: threshold = min = 1, selected {2, 3, 4}, inside {2, 4}
        pg = try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 1)
        XCTAssertEqual(pg[0].maskRelevance, 2.0 / 3.0, accuracy: 1e-7)
        // a = 0: nothing selected
        pg = try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 0)
        XCTAssertEqual(pg[0].maskRelevance, 0)
        // a = 0.1 on 4 pixels: index int(3.6) = 3, threshold = max → nothing strictly above
        pg = try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 0.1)
        XCTAssertEqual(pg[0].maskRelevance, 0)
    }

    func testPointingGameBatchSignsAndZeroEnergy() throws {
        // map 0: raw energy (-2 + 2) / 2 = 0; positive only: 2 / 4. map 1: all zeros → 0.
        let r = try t([2, 2, 2], [-2, 1, 1, 2, 0, 0, 0, 0]), m = try t([2, 2], [1, 0, 0, 1])
        let raw = try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 0.5)
        XCTAssertEqual(raw.map(\.energy), [0, 0])
        // a = 0.5: threshold sorted[2] = 1 → selected {2} inside → 1
        XCTAssertEqual(raw.map(\.maskRelevance), [1, 0])
        let pos = try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 0.5, positiveOnly: true)
        XCTAssertEqual(pos.map(\.energy), [0.5, 0])
        XCTAssertThrowsError(try RelevanceMetrics.pointingGame(relevance: r, mask: try t([3], [1, 1, 1])))
        XCTAssertThrowsError(try RelevanceMetrics.pointingGame(relevance: r, mask: m, areaFraction: 1.5))
    }

    /// y = Σ w·x over a (1, 1, 4) image; w = [1, 1, 1, 1] for row 0, [0, 0, 0, 0] for row 1.
    func linearModel() throws -> Graph {
        try Graph(inputs: [ValueInfo(name: "x", shape: [1, 1, 1, 4])],
                  nodes: [Node(name: "flat", op: .flatten(start: 1, end: -1), inputs: ["x"]),
                          Node(name: "fc", op: .linear, inputs: ["flat"], parameters: ["weight": "w", "bias": "b"])],
                  outputs: ["fc"],
                  parameters: ["w": try t([2, 4], [1, 1, 1, 1, 0, 0, 0, 0]), "b": try t([2], [0, 0])])
    }

    func testDeletionInsertionHandComputed() throws {
        let g = try linearModel()
        let x = try t([1, 1, 4], [1, 2, 3, 4]), r = try t([1, 4], [0.1, 0.4, 0.3, 0.2])  // order 1, 2, 3, 0
        var o = RelevanceMetrics.PerturbationOptions(mode: .deletion, steps: 4, batchSize: 2)
        var c = try RelevanceMetrics.perturbationCurves(model: g, images: x, relevance: r, targets: [[0]], options: o)[0]
        XCTAssertEqual(c.scores, [10, 8, 5, 1, 0])  // deletes 2, 3, 4, 1
        XCTAssertEqual(c.fractions, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(c.auc, 0.25 * (9 + 6.5 + 3 + 0.5), accuracy: 1e-6)
        o.mode = .insertion
        c = try RelevanceMetrics.perturbationCurves(model: g, images: x, relevance: r, targets: [[0]], options: o)[0]
        XCTAssertEqual(c.scores, [0, 2, 5, 9, 10])
        XCTAssertEqual(c.auc, 0.25 * (1 + 3.5 + 7 + 9.5), accuracy: 1e-6)
        // 3 steps over 4 pixels: n_k = 0, 1, 2, 4; baseline 1 everywhere
        o = .init(mode: .deletion, steps: 3, batchSize: 0, baseline: try t([1, 1, 4], [1, 1, 1, 1]))
        c = try RelevanceMetrics.perturbationCurves(model: g, images: x, relevance: r, targets: [[0]], options: o)[0]
        XCTAssertEqual(c.fractions, [0, 0.25, 0.5, 1])
        XCTAssertEqual(c.scores, [10, 9, 7, 4])
        XCTAssertEqual(c.auc, Float(0.25 * 9.5 + 0.25 * 8 + 0.5 * 5.5), accuracy: 1e-6)
    }

    func testBatchOfImagesChunkedAndSoftmax() throws {
        let g = try linearModel()
        let x = try t([2, 1, 1, 4], [1, 2, 3, 4, 4, 3, 2, 1])
        let r = try t([2, 1, 4], [0.1, 0.4, 0.3, 0.2, 1, 1, 0, 0])  // image 1: order 0, 1 (tie), 2, 3
        let o = RelevanceMetrics.PerturbationOptions(mode: .deletion, steps: 4, batchSize: 3, softmax: true)
        let cs = try RelevanceMetrics.perturbationCurves(model: g, images: x, relevance: r, targets: [[0], [1]], options: o)
        func sig(_ v: Float) -> Float { 1 / (1 + expf(-v)) }
        for (a, b) in zip(cs[0].scores, [10, 8, 5, 1, 0].map(sig)) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // target 1 = 1 - sigmoid(y); image 1 deletes 4, 3, 2, 1 → y = 10, 6, 3, 1, 0
        for (a, b) in zip(cs[1].scores, [10, 6, 3, 1, 0].map { 1 - sig($0) }) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertThrowsError(try RelevanceMetrics.perturbationCurves(model: g, images: x, relevance: r,
                                                                     targets: [[0], [2]], options: o))
    }

    func testBlurBaselineIsTheGaussianFilter() throws {
        let g = try linearModel()
        let x = try t([1, 1, 4], [1, 2, 3, 4]), r = try t([1, 4], [4, 3, 2, 1])
        let o = RelevanceMetrics.PerturbationOptions(mode: .insertion, steps: 1, blurSigma: 1)
        let c = try RelevanceMetrics.perturbationCurves(model: g, images: x, relevance: r, targets: [[0]], options: o)[0]
        let blurred = Kernels.gaussianFilter2d(try t([1, 4], [1, 2, 3, 4]), sigma: 1).values.reduce(0, +)
        XCTAssertEqual(c.scores[0], blurred, accuracy: 1e-5)
        XCTAssertEqual(c.scores[1], 10, accuracy: 1e-6)
    }
}
