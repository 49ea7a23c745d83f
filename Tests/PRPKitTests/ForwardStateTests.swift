import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The forward state kept between calls and the activations the forward keeps: a reused
/// state, a state consumed (freed) by its backward, and a forward that keeps every value
/// give the same relevance bit for bit, on a small residual ProtoPNet-like graph under the
/// PRP composite and on a plain CNN under Captum's rules.
final class ForwardStateTests: XCTestCase {
    typealias Rng = RuleMatrixFormTests.Rng

    /// conv-bn-relu-maxpool, a residual conv-bn + add, relu, 1×1 conv, sigmoid, prototypes.
    static func protoGraph() throws -> Graph {
        var rng = Rng(state: 7)
        let c = 8
        var p: [String: Tensor] = [:]
        func bn(_ name: String) -> [String: String] {
            p["\(name).g"] = rng.tensor([c], scale: 0.3, offset: 1)
            p["\(name).b"] = rng.tensor([c], scale: 0.2)
            p["\(name).m"] = rng.tensor([c], scale: 0.1)
            p["\(name).v"] = rng.tensor([c], scale: 0.2, offset: 1)
            return ["weight": "\(name).g", "bias": "\(name).b", "running_mean": "\(name).m", "running_var": "\(name).v"]
        }
        p["c1.w"] = rng.tensor([c, 3, 3, 3], scale: 0.4); p["c1.b"] = rng.tensor([c], scale: 0.1)
        p["c2.w"] = rng.tensor([c, c, 3, 3], scale: 0.2)
        p["c3.w"] = rng.tensor([6, c, 1, 1], scale: 0.4); p["c3.b"] = rng.tensor([6], scale: 0.1)
        p["protos"] = rng.tensor([5, 6], scale: 0.5, offset: 0.5)
        let pad1 = Conv2dAttributes(padding: Pair2(1, 1))
        let nodes = [
            Node(name: "f.c1", op: .conv2d(pad1), inputs: ["x"], parameters: ["weight": "c1.w", "bias": "c1.b"]),
            Node(name: "f.bn1", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c1"], parameters: bn("bn1")),
            Node(name: "f.r1", op: .relu, inputs: ["f.bn1"]),
            Node(name: "f.mp", op: .maxPool2d(MaxPool2dAttributes(kernel: Pair2(2, 2))), inputs: ["f.r1"]),
            Node(name: "f.c2", op: .conv2d(pad1), inputs: ["f.mp"], parameters: ["weight": "c2.w"]),
            Node(name: "f.bn2", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c2"], parameters: bn("bn2")),
            Node(name: "f.add", op: .add, inputs: ["f.bn2", "f.mp"]),
            Node(name: "f.r2", op: .relu, inputs: ["f.add"]),
            Node(name: "f.c3", op: .conv2d(Conv2dAttributes()), inputs: ["f.r2"], parameters: ["weight": "c3.w", "bias": "c3.b"]),
            Node(name: "f.sg", op: .sigmoid, inputs: ["f.c3"]),
            Node(name: "head.dist", op: .l2Distance(mode: .cdist), inputs: ["f.sg"], parameters: ["prototypes": "protos"]),
            Node(name: "head.sim", op: .logSimilarity(epsilon: 1e-4), inputs: ["head.dist"]),
        ]
        return try Graph(inputs: [ValueInfo(name: "x", shape: [1, 3, 12, 12])], nodes: nodes, outputs: ["head.sim"], parameters: p)
    }

    func plainCNN() throws -> Graph {
        var rng = Rng(state: 9)
        let nodes = [
            Node(name: "c1", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["x"], parameters: ["weight": "w1", "bias": "b1"]),
            Node(name: "r1", op: .relu, inputs: ["c1"]),
            Node(name: "mp", op: .maxPool2d(MaxPool2dAttributes(kernel: Pair2(2, 2))), inputs: ["r1"]),
            Node(name: "c2", op: .conv2d(Conv2dAttributes()), inputs: ["mp"], parameters: ["weight": "w2"]),
            Node(name: "r2", op: .relu, inputs: ["c2"]),
            Node(name: "gap", op: .adaptiveAvgPool2d(output: Pair2(1, 1)), inputs: ["r2"]),
            Node(name: "fl", op: .flatten(start: 1, end: -1), inputs: ["gap"]),
            Node(name: "fc", op: .linear, inputs: ["fl"], parameters: ["weight": "w3", "bias": "b3"]),
        ]
        return try Graph(inputs: [ValueInfo(name: "x", shape: [2, 3, 10, 10])], nodes: nodes, outputs: ["fc"],
                         parameters: ["w1": rng.tensor([6, 3, 3, 3], scale: 0.5), "b1": rng.tensor([6], scale: 0.1),
                                      "w2": rng.tensor([7, 6, 1, 1], scale: 0.5),
                                      "w3": rng.tensor([4, 7], scale: 0.5), "b3": rng.tensor([4], scale: 0.1)])
    }

    func assertSame(_ a: [Tensor], _ b: [Tensor], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map(\.shape), b.map(\.shape), what, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.values.map(\.bitPattern), y.values.map(\.bitPattern), what, file: file, line: line)
        }
    }

    func testPRPCompositeReusedConsumedAndFullForwardsAgree() throws {
        let graph = try ForwardStateTests.protoGraph()
        var rng = Rng(state: 3)
        let x = rng.tensor([1, 3, 12, 12])
        let cached = try Explainer(model: graph, config: ExplainerConfig(composite: PRPCompositeOptions()))
        let uncached = try Explainer(model: graph, config: ExplainerConfig(composite: PRPCompositeOptions(),
                                                                          forwardCache: .init(states: 0)))
        let propagator = cached.propagator
        // The forward keeps only what the backward reads: not the conv outputs the
        // BatchNorm's IdentityRule replaces, not the pass-through relus' values.
        XCTAssertEqual(propagator.backwardReads, ["x", "f.mp", "f.bn2", "f.c3", "f.sg"])
        XCTAssertTrue(propagator.backwardReads.isSubset(of: Set(graph.nodes.map(\.name) + ["x"])))

        for location in [PRPLocation.max, .threshold(-1e9), .at(h: 2, w: 3)] {
            let fresh = try Explainer(model: graph, config: ExplainerConfig(composite: PRPCompositeOptions()))
            let first = try fresh.prpExplainer.explain(x, prototypes: [1, 3], location: location)
            let again = try fresh.prpExplainer.explain(x, prototypes: [1, 3], location: location)
            let consumed = try uncached.prpExplainer.explain(x, prototypes: [1, 3], location: location)
            assertSame([again.relevance, again.similarity], [first.relevance, first.similarity], "reused, \(location)")
            assertSame([consumed.relevance], [first.relevance], "consumed, \(location)")
            XCTAssertEqual(fresh.propagator.stateCache.counts.forwards, 1)
            XCTAssertEqual(fresh.propagator.stateCache.counts.reuses, 1)

            // Every value kept, no reuse, no freeing: the reference path.
            let full = try propagator.prepare([x], retainingAll: true)
            let start = Tensor(zeros: [2] + Array(full.outputs[0].shape.dropFirst()))
            let hw = full.outputs[0].shape[2] * full.outputs[0].shape[3]
            for (row, seeds) in first.seeds.enumerated() {
                let proto = [1, 3][row]
                for l in seeds { start.data[(row * 5 + proto) * hw + l] = full.outputs[0].data[proto * hw + l] }
            }
            assertSame(try propagator.propagate(full, start: start), [first.relevance], "all values kept, \(location)")
        }
        XCTAssertEqual(uncached.propagator.stateCache.counts.forwards, 3)
        XCTAssertEqual(uncached.propagator.stateCache.counts.reuses, 0)
        XCTAssertEqual(uncached.propagator.stateCache.bytes, 0)
    }

    func testCaptumRulesReusedConsumedAndFullForwardsAgree() throws {
        let graph = try plainCNN()
        var rng = Rng(state: 5)
        let x = rng.tensor([2, 3, 10, 10])
        // r1 takes the ordinary backward: its mask comes from its output, not from c1.
        let rules = RuleSet(byNode: ["c2": .gamma(0.25), "fc": .epsilon(1e-3), "r1": .gradient()])
        let lrp = try LRP(graph: graph, rules: rules)
        XCTAssertTrue(lrp.propagator.backwardReads.contains("r1"))
        XCTAssertFalse(lrp.propagator.backwardReads.contains("c1"))
        let consuming = LRP(propagator: try RelevancePropagator(graph: graph, rules: rules, cache: .init(states: 0)))
        for target in 0..<4 {
            let a = try lrp.attribute([x], targets: [[target], [3 - target]])
            let b = try consuming.attribute([x], targets: [[target], [3 - target]])
            assertSame(a.relevance, b.relevance, "target \(target)")
            XCTAssertEqual(a.scores, b.scores)
            let full = try lrp.propagator.prepare([x], retainingAll: true)
            let start = Tensor(zeros: [2, 4])
            start.data[target] = 1; start.data[4 + 3 - target] = 1
            let r = try lrp.propagator.propagate(full, start: start)[0]
            for e in 0..<2 { for i in 0..<300 { r.data[e * 300 + i] *= a.scores[e] } }
            assertSame([r], a.relevance, "all values kept, target \(target)")
        }
        XCTAssertEqual(lrp.propagator.stateCache.counts.forwards, 1)
        XCTAssertEqual(lrp.propagator.stateCache.counts.reuses, 3)
        XCTAssertEqual(consuming.propagator.stateCache.counts.forwards, 4)
    }

    func testCacheKeyIsExactBytesAndTheCacheIsBounded() throws {
        let graph = try plainCNN()
        var rng = Rng(state: 6)
        let x = rng.tensor([2, 3, 10, 10])
        let lrp = try LRP(graph: graph, rules: RuleSet())
        let cache = lrp.propagator.stateCache
        let first = try lrp.attribute([x], targets: [[0], [1]])
        // The caller's buffer changes after the call: the state kept a copy, the key moves.
        x.data[17] = x.data[17].nextUp
        let changed = try lrp.attribute([x], targets: [[0], [1]])
        XCTAssertEqual(cache.counts.forwards, 2)
        XCTAssertNotEqual(changed.relevance[0].values, first.relevance[0].values)
        let fresh = try LRP(graph: graph, rules: RuleSet()).attribute([x], targets: [[0], [1]])
        assertSame(changed.relevance, fresh.relevance, "after a one-ulp change")
        // A batch of one other shape is another key.
        _ = try lrp.attribute([try x.reshaped([2, 3, 10, 10]).copy()], targets: [[2], [2]])
        XCTAssertEqual(cache.counts.reuses, 1)
        let one = Tensor(zeros: [1, 3, 10, 10])
        one.data.update(from: x.data, count: one.count)
        _ = try lrp.attribute([one], targets: [[2]])
        XCTAssertEqual(cache.counts.forwards, 3)
        // Bounded by bytes: a budget below one state keeps nothing.
        let tiny = try RelevancePropagator(graph: graph, rules: RuleSet(), cache: .init(states: 4, bytes: 1024))
        _ = try LRP(propagator: tiny).attribute([x], targets: [[0], [0]])
        XCTAssertEqual(tiny.stateCache.bytes, 0)
        XCTAssertGreaterThan(try tiny.prepare([x]).byteCount, 1024)
    }
}

extension RuleMatrixFormTests.Rng {
    /// A tensor of `offset + scale·u`, u uniform in [−1, 1].
    mutating func tensor(_ shape: [Int], scale: Float = 1, offset: Float = 0) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.data[i] = offset + scale * next() }
        return t
    }
}
