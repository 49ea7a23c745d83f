import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The PRP composite's BatchNorm-folded convolution weights are deferred parameters: the
/// forward's packing is their only stored copy, and they are unpacked from it (or remade
/// from the model's weights) when a rule needs the floats. Every way of reading them, and
/// every explanation, gives the bits of the composite that stores the folded weights.
final class DeferredWeightTests: XCTestCase {
    typealias Rng = RuleMatrixFormTests.Rng

    override func tearDown() {
        GEMMKernelSet.forcedLevel = nil
        ConvCostModel.admissible = []
    }

    func assertBits(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), what, file: file, line: line)
    }

    /// unpacked(pack(W)) = W bit for bit, direct and transposed, grouped and not, with K
    /// spanning several kc blocks and Cout not a multiple of the register tile, at every
    /// kernel set the CPU runs.
    func testUnpackingAPackingGivesTheWeightBack() {
        var rng = Rng(state: 11)
        for level in 0...GEMMKernelSet.detectedLevel {
            GEMMKernelSet.forcedLevel = level
            for (shape, groups) in [([13, 40, 3, 3], 1), ([10, 30, 3, 3], 2), ([7, 300, 1, 1], 1), ([1, 5, 1, 1], 1)] {
                let w = rng.tensor(shape)
                for layout in [ConvWeightLayout.direct, .transposed] {
                    let packed = PackedConvWeights(weight: w, groups: groups, layout: layout)
                    assertBits(packed.unpacked(), w, "\(shape) groups \(groups) \(layout), level \(level)")
                }
            }
        }
    }

    /// The flipped, transposed kernel's packing gathered in one pass equals packing the
    /// flipped kernel, for both GEMM layouts, at every kernel set.
    func testFlippedPackingGatheredEqualsPackingTheFlippedKernel() {
        var rng = Rng(state: 13)
        for level in 0...GEMMKernelSet.detectedLevel {
            GEMMKernelSet.forcedLevel = level
            for shape in [[13, 40, 3, 3], [7, 33, 5, 5], [300, 2, 3, 3], [1, 1, 3, 3]] {
                let w = rng.tensor(shape)
                for layout in [ConvWeightLayout.direct, .transposed] {
                    let want = PackedConvWeights(weight: Kernels.flippedTransposedKernel(w), groups: 1, layout: layout)
                    let got = PackedConvWeights(flippedTransposedOf: w, layout: layout, kernels: GEMMKernelSet.current)
                    XCTAssertEqual(got.count, want.count)
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: got.pointer, count: got.count)).map(\.bitPattern),
                                   Array(UnsafeBufferPointer(start: want.pointer, count: want.count)).map(\.bitPattern),
                                   "\(shape) \(layout), level \(level)")
                }
            }
        }
    }

    /// A ProtoPNet-like graph whose 3×3 conv is large enough for the cost model to pick
    /// Winograd when it is admitted (asserted where used).
    static func wideGraph() throws -> Graph {
        var rng = Rng(state: 21)
        let c = 48
        var p: [String: Tensor] = [:]
        func bn(_ name: String) -> [String: String] {
            p["\(name).g"] = rng.tensor([c], scale: 0.3, offset: 1)
            p["\(name).b"] = rng.tensor([c], scale: 0.2)
            p["\(name).m"] = rng.tensor([c], scale: 0.1)
            p["\(name).v"] = rng.tensor([c], scale: 0.2, offset: 1)
            return ["weight": "\(name).g", "bias": "\(name).b", "running_mean": "\(name).m", "running_var": "\(name).v"]
        }
        p["c1.w"] = rng.tensor([c, 3, 3, 3], scale: 0.4)
        p["c2.w"] = rng.tensor([c, c, 3, 3], scale: 0.1)
        p["c3.w"] = rng.tensor([c, c, 1, 1], scale: 0.2)
        p["c4.w"] = rng.tensor([6, c, 1, 1], scale: 0.3); p["c4.b"] = rng.tensor([6], scale: 0.1)
        p["protos"] = rng.tensor([5, 6], scale: 0.5, offset: 0.5)
        let pad1 = Conv2dAttributes(padding: Pair2(1, 1))
        let nodes = [
            Node(name: "f.c1", op: .conv2d(pad1), inputs: ["x"], parameters: ["weight": "c1.w"]),
            Node(name: "f.bn1", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c1"], parameters: bn("bn1")),
            Node(name: "f.r1", op: .relu, inputs: ["f.bn1"]),
            Node(name: "f.c2", op: .conv2d(pad1), inputs: ["f.r1"], parameters: ["weight": "c2.w"]),
            Node(name: "f.bn2", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c2"], parameters: bn("bn2")),
            Node(name: "f.r2", op: .relu, inputs: ["f.bn2"]),
            Node(name: "f.c3", op: .conv2d(Conv2dAttributes(stride: Pair2(2, 2))), inputs: ["f.r2"], parameters: ["weight": "c3.w"]),
            Node(name: "f.bn3", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c3"], parameters: bn("bn3")),
            Node(name: "f.r3", op: .relu, inputs: ["f.bn3"]),
            Node(name: "f.c4", op: .conv2d(Conv2dAttributes()), inputs: ["f.r3"], parameters: ["weight": "c4.w", "bias": "c4.b"]),
            Node(name: "f.sg", op: .sigmoid, inputs: ["f.c4"]),
            Node(name: "head.dist", op: .l2Distance(mode: .cdist), inputs: ["f.sg"], parameters: ["prototypes": "protos"]),
            Node(name: "head.sim", op: .logSimilarity(epsilon: 1e-4), inputs: ["head.dist"]),
        ]
        return try Graph(inputs: [ValueInfo(name: "x", shape: [1, 3, 24, 24])], nodes: nodes, outputs: ["head.sim"], parameters: p)
    }

    func explainer(_ graph: Graph, deferring: Bool, options: PRPCompositeOptions = PRPCompositeOptions()) throws -> PRPExplainer {
        let c = try Composites.cabrnetPRP(graph, options: options, deferringFoldedWeights: deferring)
        return PRPExplainer(propagator: try RelevancePropagator(graph: c.graph, rules: c.rules, cache: .init(states: 0)))
    }

    /// The folded weights are deferred (not stored), and reading one — before any forward
    /// (made from the model's weights), after one (unpacked from the forward's packing),
    /// and through `parameters` — gives the stored composite's floats.
    func testDeferredWeightsReadAsTheStoredOnes() throws {
        for graph in [try ForwardStateTests.protoGraph(), try Self.wideGraph()] {
            let deferred = try Composites.cabrnetPRP(graph, options: PRPCompositeOptions(), deferringFoldedWeights: true).graph
            let stored = try Composites.cabrnetPRP(graph, options: PRPCompositeOptions(), deferringFoldedWeights: false).graph
            let folded = stored.storedParameters.keys.filter { $0.hasSuffix(".weight#merged") }
            XCTAssertFalse(folded.isEmpty)
            XCTAssertEqual(Set(deferred.deferredParameters.keys), Set(folded))
            XCTAssertTrue(deferred.storedParameters.keys.allSatisfy { !$0.hasSuffix(".weight#merged") })
            for name in folded {
                XCTAssertEqual(deferred.parameterShapes[name], stored.storedParameters[name]!.shape)
                assertBits(deferred.parameter(named: name)!, stored.storedParameters[name]!, "\(name) made")
                let node = deferred.nodes.first { $0.parameters["weight"] == name }!
                assertBits(deferred.deferredWeightPart(node, positive: true)!,
                           Kernels.map(stored.storedParameters[name]!) { max($0, 0) }, "\(name) W⁺ made")
            }
            var rng = Rng(state: 2)
            _ = try deferred.forward([rng.tensor(graph.inputs[0].shape)])
            for name in folded {
                let node = deferred.nodes.first { $0.parameters["weight"] == name }!
                XCTAssertNotNil(deferred.packedConvWeights.gemmPacking(node.name, shape: deferred.parameterShapes[name]!),
                                "\(name): the forward packed it")
                assertBits(deferred.parameter(named: name)!, stored.storedParameters[name]!, "\(name) unpacked")
                assertBits(deferred.parameters[name]!, stored.storedParameters[name]!, "\(name) through parameters")
                // A rule's W⁺ / W⁻, unpacked with the sign in one pass.
                let w = stored.storedParameters[name]!
                assertBits(deferred.deferredWeightPart(node, positive: true)!, Kernels.map(w) { max($0, 0) }, "\(name) W⁺")
                assertBits(deferred.deferredWeightPart(node, positive: false)!, Kernels.map(w) { min($0, 0) }, "\(name) W⁻")
            }
        }
    }

    /// Whole explanations of the deferred composite (one explainer, switching kernel sets
    /// and thread counts between calls, so packings are remade from the model's weights)
    /// equal the stored composite's under each setting — also with Winograd admitted (the
    /// forward's packing of the 3×3 conv is then transformed weights, which cannot be
    /// unpacked: the rules' W± are remade from the model's weights), and for the
    /// corrected composite.
    func testExplanationsEqualTheStoredComposite() throws {
        let graph = try Self.wideGraph()
        var rng = Rng(state: 4)
        let x = rng.tensor([1, 3, 24, 24])
        for options in [PRPCompositeOptions(), PRPCompositeOptions.corrected] {
            let ex = try explainer(graph, deferring: true, options: options)
            for admissible in [[], [2, 4, 6]] {
                ConvCostModel.admissible = admissible
                for level in (0...GEMMKernelSet.detectedLevel).reversed() {
                    GEMMKernelSet.forcedLevel = level
                    for threads in [2, 1, 3] {
                        try Parallel.withThreadCount(threads) {
                            let what = "corrected \(options.corrected), winograd \(admissible), level \(level), \(threads) threads"
                            let got = try ex.explain(x, prototypes: [1, 4], location: .threshold(-1e9))
                            let want = try explainer(graph, deferring: false, options: options)
                                .explain(x, prototypes: [1, 4], location: .threshold(-1e9))
                            assertBits(got.relevance, want.relevance, what)
                        }
                    }
                }
            }
        }
    }

    /// With Winograd admitted, the wide graph's 3×3 conv does take a Winograd packing (else
    /// the test above would not cover that path).
    func testWinogradPathIsTaken() throws {
        ConvCostModel.admissible = [2, 4, 6]
        let c = try Composites.cabrnetPRP(try Self.wideGraph(), options: PRPCompositeOptions(), deferringFoldedWeights: true)
        var rng = Rng(state: 1)
        _ = try c.graph.forward([rng.tensor([1, 3, 24, 24])])
        XCTAssertNil(c.graph.packedConvWeights.gemmPacking("f.c2", shape: [48, 48, 3, 3]), "f.c2 runs Winograd")
        XCTAssertNotNil(c.graph.packedConvWeights.gemmPacking("f.c3", shape: [48, 48, 1, 1]))
    }

    /// A model read from a file (memory-mapped): the composite gives the file's pages back,
    /// and the model's own parameters still read the file's floats afterwards; its
    /// explanations equal those of the same model held in memory with stored folded weights.
    func testMappedModelStillReadsItsWeights() throws {
        let graph = try Self.wideGraph()
        let path = NSTemporaryDirectory() + "prpkit-deferred-\(getpid()).prpkit"
        defer { unlink(path) }
        try ModelFile.save(graph, path: path)
        let mapped = try ModelFile.load(path: path)
        XCTAssertNotNil(mapped.storedParameters["c2.w"]!.storage.mapping, "the loader maps the file")
        var rng = Rng(state: 6)
        let x = rng.tensor([1, 3, 24, 24])
        let got = try explainer(mapped, deferring: true).explain(x, prototypes: [0, 3], location: .max)
        let want = try explainer(graph, deferring: false).explain(x, prototypes: [0, 3], location: .max)
        assertBits(got.relevance, want.relevance, "mapped, deferred vs in memory, stored")
        for (name, t) in graph.storedParameters { assertBits(mapped.parameter(named: name)!, t, "model parameter \(name)") }
    }
}
