import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Which similarity-map locations seed a PRP backward pass, against CaBRNet 1.2's prp()
/// loop (gradients.py, `_captum_attribution`) written out here on the same map: a
/// location (i, j) is skipped when a pinned row/column (an index ≥ 0) differs, or when
/// S[i, j] < threshold; with an explicit location the threshold is S[h, w] (Python
/// indexing). Exact: selection compares floats, nothing is rounded.
final class PRPLocationTests: XCTestCase {
    let (hs, ws) = (3, 4)

    /// x (1, 2, 3, 4) → l2_distance (2 prototypes) → log similarity: a similarity map
    /// (1, 2, 3, 4) with distinct values, and its PRP explainer.
    func explainer() throws -> (PRPExplainer, Tensor) {
        let x = try Tensor(shape: [1, 2, hs, ws], values: (0..<2 * hs * ws).map { Float(($0 * 7) % 11) / 10 })
        let graph = try Graph(
            inputs: [ValueInfo(name: "x", shape: [1, 2, hs, ws])],
            nodes: [Node(name: "distances", op: .l2Distance(mode: .cdist), inputs: ["x"], parameters: ["prototypes": "p"]),
                    Node(name: "similarity", op: .logSimilarity(epsilon: 1e-4), inputs: ["distances"])],
            outputs: ["similarity"],
            parameters: ["p": try Tensor(shape: [2, 2], values: [0.3, 0.6, 0.9, 0.1])])
        let rules = RuleSet(byNode: ["distances": .prototypeSimilarity(), "similarity": .passThrough()])
        return (try PRPExplainer(composite: Composite(graph: graph, rules: rules)), x)
    }

    /// CaBRNet's selection for prototype `p`: (h, w) = (−1, −1) and `threshold` for
    /// location None; an explicit location sets the threshold to S[h, w].
    func cabrnet(_ sim: Tensor, p: Int, h: Int, w: Int, threshold: Float?) -> [Int] {
        let map = Array(sim.values[(p * hs * ws)..<((p + 1) * hs * ws)])
        let t = threshold ?? map[((h + hs) % hs) * ws + (w + ws) % ws]
        var out: [Int] = []
        for i in 0..<hs where !(h >= 0 && h != i) {
            for j in 0..<ws where !(w >= 0 && w != j) && !(map[i * ws + j] < t) { out.append(i * ws + j) }
        }
        return out
    }

    func testExplicitLocationsIncludingNegativeEntries() throws {
        let (ex, x) = try explainer()
        for (h, w) in [(1, 2), (0, 0), (-1, 2), (2, -1), (-1, -1), (-3, -4), (-2, 0), (1, -4)] {
            for p in 0..<2 {
                let maps = try ex.explain(x, prototypes: [p], location: .at(h: h, w: w))
                let expected = cabrnet(maps.similarity, p: p, h: h, w: w, threshold: nil)
                XCTAssertEqual(maps.seeds[0], expected, "(\(h), \(w)) prototype \(p)")
                XCTAssertFalse(expected.isEmpty)
            }
        }
        // (−1, −1) keeps every location at least as similar as the last one: more than one here.
        let maps = try ex.explain(x, prototypes: [0], location: .at(h: -1, w: -1))
        XCTAssertGreaterThan(maps.seeds[0].count, 1)
    }

    func testLocationsOutsideTheMapAreErrors() throws {
        let (ex, x) = try explainer()
        for (h, w) in [(3, 0), (0, 4), (-4, 0), (0, -5), (100, 100)] {
            XCTAssertThrowsError(try ex.explain(x, prototypes: [0], location: .at(h: h, w: w))) { error in
                XCTAssertTrue("\(error)".contains("outside"), "\(error)")
            }
        }
    }

    func testThresholdsIncludingInfinitiesAndNaN() throws {
        let (ex, x) = try explainer()
        for t in [-Float.infinity, 0, 1.5, 3, .infinity, .nan] {
            let maps = try ex.explain(x, prototypes: [0, 1], location: .threshold(t))
            for p in 0..<2 {
                XCTAssertEqual(maps.seeds[p], cabrnet(maps.similarity, p: p, h: -1, w: -1, threshold: t), "threshold \(t)")
            }
            if t == .infinity {
                XCTAssertTrue(maps.seeds.allSatisfy(\.isEmpty))
                XCTAssertTrue(maps.relevance.values.allSatisfy { $0 == 0 })
            }
            if t == -.infinity || t.isNaN { XCTAssertTrue(maps.seeds.allSatisfy { $0.count == hs * ws }) }
        }
    }
}
