import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// zennit's rules (alpha_beta, generalized_gamma, norm) on one layer against their
/// contribution form, written independently of the engine and of the rules' x⁺/x⁻ and
/// W⁺/W⁻ split: with contributions z_ij = x_i·w_ij (signed inputs and weights),
///   αβ: R_i = Σ_j [α z_ij⁺ / (Σ_i z_ij⁺ + b_j⁺ + ε) − β z_ij⁻ / (Σ_i z_ij⁻ + b_j⁻ − ε)] R_j,
///   γ:  R_i = Σ_j (z_ij + γ z_ij^s) / (Σ_i (z_ij + γ z_ij^s) + b_j + γ b_j^s ± ε) R_j,
///       s the sign of o_j = Σ_i z_ij + b_j (no relevance where o_j = 0).
/// The full numbers on VGG16-BN and ResNet50 are checked against zennit itself in
/// python/tests/test_zennit_composites.py. Tolerance as RuleMatrixFormTests (float32 sums
/// of ≤ 7 terms of magnitude ≤ ~1 in different orders: far below 1e-5 of max |R|).
final class ZennitRuleMatrixFormTests: XCTestCase {
    let (out, k) = (5, 7)

    func data() -> (w: [Float], b: [Float], x: [Float]) {
        var rng = RuleMatrixFormTests.Rng(state: 7)
        let w = (0..<out * k).map { _ in rng.next() }
        let b = (0..<out).map { _ in rng.next() * 0.3 }
        let x = (0..<k).map { _ in rng.next() }  // both signs: the x⁻ paths run
        return (w, b, x)
    }

    /// prpkit's relevance for each target (LRP multiplies by the score z_t at the end).
    func relevance(_ rule: Rule, target: Int) throws -> (got: [Float], score: Float) {
        let (w, b, x) = data()
        let graph = try Graph(inputs: [ValueInfo(name: "x", shape: [1, k])],
                              nodes: [Node(name: "fc", op: .linear, inputs: ["x"], parameters: ["weight": "w", "bias": "b"])],
                              outputs: ["fc"],
                              parameters: ["w": try Tensor(shape: [out, k], values: w), "b": try Tensor(shape: [out], values: b)])
        let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["fc": rule]))
        let r = try lrp.attribute([try Tensor(shape: [1, k], values: x)], targets: [[target]])
        return (r.relevance[0].values, r.scores[0])
    }

    func assertClose(_ got: [Float], _ expected: [Float], _ what: String) {
        let scale = max(expected.map(abs).max()!, 1e-6)
        for i in got.indices { XCTAssertEqual(got[i], expected[i], accuracy: 1e-5 * scale, "\(what) i \(i)") }
    }

    func testAlphaBeta() throws {
        let (w, b, x) = data()
        let eps: Float = 1e-6
        for (alpha, beta) in [(Float(2), Float(1)), (1, 0), (3, 2)] {
            for t in 0..<out {
                let z = (0..<k).map { x[$0] * w[t * k + $0] }
                let pos = z.map { max($0, 0) }.reduce(0, +) + max(b[t], 0) + eps
                let neg = z.map { min($0, 0) }.reduce(0, +) + min(b[t], 0)
                let negDen = neg + (neg < 0 ? -eps : eps)
                let (got, score) = try relevance(.alphaBeta(alpha: alpha, beta: beta), target: t)
                let expected = z.map { (alpha * max($0, 0) / pos - beta * min($0, 0) / negDen) * score }
                assertClose(got, expected, "alpha \(alpha) beta \(beta) target \(t)")
            }
        }
    }

    func testGeneralizedGamma() throws {
        let (w, b, x) = data()
        let eps: Float = 1e-6
        for gamma in [Float(0.25), 0, 1] {
            for t in 0..<out {
                let z = (0..<k).map { x[$0] * w[t * k + $0] }
                let o = z.reduce(0, +) + b[t]
                let part: (Float) -> Float = o > 0 ? { max($0, 0) } : { min($0, 0) }
                let c = z.map { $0 + gamma * part($0) }
                let d = c.reduce(0, +) + b[t] + gamma * part(b[t])
                let den = d + (d < 0 ? -eps : eps)
                let (got, score) = try relevance(.generalizedGamma(gamma), target: t)
                assertClose(got, c.map { $0 / den * score }, "gamma \(gamma) target \(t)")
            }
        }
    }

    /// Norm on a residual sum: R_a = a·R/(a + b + ε·sign0), likewise b; on an average pool
    /// each input's share of the mean.
    func testNormOnAddAndAveragePool() throws {
        let a: [Float] = [0.5, -2, 0, 1e-8], c: [Float] = [1.5, 1, 0, -1e-8]
        let graph = try Graph(inputs: [ValueInfo(name: "a", shape: [1, 1, 2, 2]), ValueInfo(name: "b", shape: [1, 1, 2, 2])],
                              nodes: [Node(name: "s", op: .add, inputs: ["a", "b"])], outputs: ["s"], parameters: [:])
        let lrp = try LRP(graph: graph, rules: RuleSet(byNode: ["s": .norm(stabilizer: 1e-6)]))
        for t in 0..<4 {
            let r = try lrp.attribute([try Tensor(shape: [1, 1, 2, 2], values: a), try Tensor(shape: [1, 1, 2, 2], values: c)],
                                      targets: [[0, t / 2, t % 2]])
            let o = a[t] + c[t], den = o + (o < 0 ? -1e-6 : 1e-6)
            for (got, v) in zip(r.relevance, [a, c]) {
                assertClose(got.values, (0..<4).map { $0 == t ? v[t] / den * o : 0 }, "add target \(t)")
            }
        }
        let x: [Float] = [1, 3, -2, 6]
        let pool = try Graph(inputs: [ValueInfo(name: "x", shape: [1, 1, 2, 2])],
                             nodes: [Node(name: "p", op: .adaptiveAvgPool2d(output: Pair2(1, 1)), inputs: ["x"])],
                             outputs: ["p"], parameters: [:])
        let r = try LRP(graph: pool, rules: RuleSet(byNode: ["p": .norm()])).attribute([try Tensor(shape: [1, 1, 2, 2], values: x)],
                                                                                       targets: [[0, 0, 0]])
        let mean: Float = 2
        assertClose(r.relevance[0].values, x.map { $0 / 4 / (mean + 1e-6) * mean }, "adaptive avg pool")
    }
}
