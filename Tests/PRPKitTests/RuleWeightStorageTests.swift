import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// How the PRP composite's rule weights are held: W⁺ is never stored (the forward maps the
/// graph's packing of W for one layer call, the backward maps W), and the flipped kernels
/// of stride-1 convolutions exist only as packings in the propagator's cache, one per node
/// and layout, remade when the kernel set changes. Each way gives the floats of the
/// unpacked formulas bit for bit.
final class RuleWeightStorageTests: XCTestCase {
    typealias Rng = RuleMatrixFormTests.Rng

    override func tearDown() {
        GEMMKernelSet.forcedLevel = nil
    }

    func explainer(states: Int = 1) throws -> Explainer {
        try Explainer(model: try ForwardStateTests.protoGraph(),
                      config: ExplainerConfig(composite: PRPCompositeOptions(), forwardCache: .init(states: states)))
    }

    func assertBits(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), what, file: file, line: line)
    }

    /// The composite's folded weights are deferred, so the flipped kernel of the one
    /// stride-1 3×3 α1β0 conv (f.c2) is packed per call from the forward's packing, not
    /// kept; the graph's cache holds one packing per conv (W, for the forward), no W⁺.
    func testOnlyPackingsAreStored() throws {
        let ex = try explainer()
        var rng = Rng(state: 5)
        _ = try ex.prpExplainer.explain(rng.tensor([1, 3, 12, 12]), prototypes: [0, 2], location: .max)
        XCTAssertEqual(ex.propagator.packedWeights.count, 0)
        XCTAssertEqual(ex.propagator.graph.packedConvWeights.count, 3)
        XCTAssertEqual(ex.propagator.negativeWeights.count, 1, "W⁻ only for the first (z^B) conv")
    }

    /// The forward's W± from the packing of W, and the backward's kept flipped packing,
    /// against conv2d / conv2dInputGradient on the unpacked W⁺ and W⁻, at every kernel set
    /// the CPU runs; switching kernel sets remakes the kept packing (a stale one has
    /// another register tile and would give other numbers).
    func testPackedRuleWeightsGiveTheUnpackedFloats() throws {
        let ex = try explainer()
        let p = ex.propagator
        let graph = p.graph
        var rng = Rng(state: 8)
        for level in (0...GEMMKernelSet.detectedLevel).reversed() {
            GEMMKernelSet.forcedLevel = level
            for name in ["f.c2", "f.c3"] {
                let node = graph.nodes.first { $0.name == name }!
                guard case .conv2d(let a) = node.op else { return XCTFail("\(name) is a conv") }
                let w = graph.parameter(node, "weight")!
                let wPlus = Kernels.map(w) { max($0, 0) }, wMinus = Kernels.map(w) { min($0, 0) }
                let x = rng.tensor([2, w.shape[1], 6, 6])
                let bias = rng.tensor([w.shape[0]])
                assertBits(p.signedLayerForward(node, x, positive: true, bias: bias),
                           Kernels.conv2d(x, weight: wPlus, bias: bias, a), "\(name) W⁺ forward, level \(level)")
                assertBits(p.signedLayerForward(node, x, positive: false, bias: nil),
                           Kernels.conv2d(x, weight: wMinus, bias: nil, a), "\(name) W⁻ forward, level \(level)")
                let out = Kernels.conv2d(x, weight: w, bias: nil, a)
                let g = rng.tensor(out.shape)
                for _ in 0..<2 {  // the second call uses the kept packing
                    assertBits(p.layerInputGradient(node, g, weight: { wPlus }, inputShape: x.shape, keepsFlipped: true,
                                                         signDefinite: true),
                               Kernels.conv2dInputGradient(g, weight: wPlus, a, inputSize: Pair2(6, 6)),
                               "\(name) W⁺ᵀ backward, level \(level)")
                }
            }
        }
    }

    /// Whole explanations: one explainer switching kernel sets and thread counts between
    /// calls equals a fresh explainer made under each setting.
    func testExplanationsFollowKernelSetAndThreadChanges() throws {
        let ex = try explainer(states: 0)
        var rng = Rng(state: 4)
        let x = rng.tensor([1, 3, 12, 12])
        for level in (0...GEMMKernelSet.detectedLevel).reversed() {
            GEMMKernelSet.forcedLevel = level
            for threads in [2, 1, 3] {
                try Parallel.withThreadCount(threads) {
                    let got = try ex.prpExplainer.explain(x, prototypes: [1, 4], location: .threshold(-1e9))
                    let fresh = try explainer().prpExplainer.explain(x, prototypes: [1, 4], location: .threshold(-1e9))
                    assertBits(got.relevance, fresh.relevance, "level \(level), \(threads) threads")
                }
            }
        }
    }
}
