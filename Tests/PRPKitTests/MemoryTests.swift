import Foundation
import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Memory: model files are mapped (weights used in place, pages releasable without
/// changing a value), and the tensor pool stays within the high-water mark of the buffers
/// in use and gives idle buffers back.
final class MemoryTests: XCTestCase {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("prpkit-memory-\(UUID().uuidString).prpkit").path
    }

    func testLoadedWeightsAreMappedAndReleasingPagesKeepsValues() throws {
        let graph = try ModelFileFixtures.smallGraph()
        let path = temporaryPath()
        defer { unlink(path) }
        try ModelFile.save(graph, path: path)
        let loaded = try ModelFile.load(path: path)
        let x = ModelFileFixtures.tensor([1, 3, 8, 8], seed: 9)
        let expected = try graph.forward([x]).outputs
        for (name, t) in loaded.parameters {
            XCTAssertNotNil(t.storage.mapping, "\(name) is read from the mapped file")
            XCTAssertFalse(t.storage.owned, "\(name): mapped floats are never written")
            XCTAssertEqual(t.values, graph.parameters[name]!.values, name)
        }
        XCTAssertEqual(try loaded.forward([x]).outputs.map(\.values), expected.map(\.values))
        for t in loaded.parameters.values { t.storage.releaseResidentPages() }
        XCTAssertEqual(try loaded.forward([x]).outputs.map(\.values), expected.map(\.values), "same values after release")
        // An image in memory is copied: the caller may free it.
        let bytes = ModelFile.encode(graph)
        let copied = try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) }
        XCTAssertTrue(copied.parameters.values.allSatisfy { $0.storage.mapping == nil && $0.storage.owned })
        // The mapping outlives the graph that made it for as long as a tensor uses it.
        var weight: Tensor? = try ModelFile.load(path: path).parameters["fc.weight"]
        XCTAssertEqual(weight!.values, graph.parameters["fc.weight"]!.values)
        weight = nil
    }

    /// Pages of `file` mapped into this process (the present bit of /proc/self/pagemap).
    func mappedPages(_ file: MappedFile) throws -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let fd = open("/proc/self/pagemap", O_RDONLY)
        guard fd >= 0 else { throw XCTSkip("no /proc/self/pagemap") }
        defer { close(fd) }
        let first = Int(bitPattern: file.base) / page, count = (file.size + page - 1) / page
        var entries = [UInt64](repeating: 0, count: count)
        let n = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(first * 8)) }
        XCTAssertEqual(n, count * 8)
        return entries.filter { $0 >> 63 == 1 }.count
    }

    /// A PRP composite of a model file keeps no copy of the folded weights and gives the
    /// file's pages back: after an explanation, little of the file (a 9.4 MB conv weight)
    /// is mapped, and the model still reads its weights (DeferredWeightTests checks the values).
    func testCompositeOfAMappedModelGivesTheFilePagesBack() throws {
        var rng = RuleMatrixFormTests.Rng(state: 3)
        let c = 512
        let nodes = [
            Node(name: "f.c1", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["x"], parameters: ["weight": "w1"]),
            Node(name: "f.bn1", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c1"],
                 parameters: ["weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"]),
            Node(name: "f.r1", op: .relu, inputs: ["f.bn1"]),
            Node(name: "f.c2", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["f.r1"], parameters: ["weight": "w2"]),
            Node(name: "f.bn2", op: .batchNorm2d(epsilon: 1e-5), inputs: ["f.c2"],
                 parameters: ["weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"]),
            Node(name: "f.sg", op: .sigmoid, inputs: ["f.bn2"]),
            Node(name: "head.dist", op: .l2Distance(mode: .cdist), inputs: ["f.sg"], parameters: ["prototypes": "protos"]),
            Node(name: "head.sim", op: .logSimilarity(epsilon: 1e-4), inputs: ["head.dist"]),
        ]
        let graph = try Graph(inputs: [ValueInfo(name: "x", shape: [1, 3, 4, 4])], nodes: nodes, outputs: ["head.sim"],
                              parameters: ["w1": rng.tensor([c, 3, 3, 3], scale: 0.3), "w2": rng.tensor([c, c, 3, 3], scale: 0.05),
                                           "g": rng.tensor([c], scale: 0.2, offset: 1), "b": rng.tensor([c], scale: 0.1),
                                           "m": rng.tensor([c], scale: 0.1), "v": rng.tensor([c], scale: 0.2, offset: 1),
                                           "protos": rng.tensor([3, c], scale: 0.3, offset: 0.5)])
        let path = temporaryPath()
        defer { unlink(path) }
        try ModelFile.save(graph, path: path)
        let model = try ModelFile.load(path: path)
        let file = try XCTUnwrap(model.storedParameters["w2"]!.storage.mapping as? MappedFile)
        let explainer = try Explainer(model: model, config: ExplainerConfig(composite: PRPCompositeOptions()))
        XCTAssertTrue(explainer.graph.storedParameters.keys.allSatisfy { !$0.hasSuffix(".weight#merged") })
        _ = try explainer.prpExplainer.explain(rng.tensor([1, 3, 4, 4]), prototypes: [1], location: .max)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapped = try mappedPages(file) * page, weightBytes = c * c * 9 * 4
        XCTAssertLessThan(mapped, weightBytes / 3, "\(mapped) bytes of the \(file.size)-byte file stay mapped")
    }

    func testPoolStaysWithinItsHighWaterMarkAndReleasesIdleBuffers() {
        TensorPool.releaseIdle()
        let base = TensorPool.usage
        // Peak demand: two buffers of 1 MiB at once.
        var a: Tensor? = Tensor(zeros: [1 << 18]), b: Tensor? = Tensor(zeros: [1 << 18])
        let peak = TensorPool.usage.highWater
        XCTAssertGreaterThanOrEqual(peak - base.live, 2 << 20)
        a = nil; b = nil
        XCTAssertEqual(TensorPool.usage.idle - base.idle, 2 << 20, "both kept idle for reuse")
        // Other sizes afterwards: idle buffers make room, the total never passes the mark.
        for n in [300_000, 200_000, 150_000, 100_000] {
            var t: Tensor? = Tensor(zeros: [n])
            let u = TensorPool.usage
            XCTAssertLessThanOrEqual(u.live + u.idle, max(peak, u.live), "size \(n)")
            XCTAssertEqual(t!.data[n - 1], 0, "reused buffers come back zeroed")
            t!.data[n - 1] = 1
            t = nil
        }
        _ = a; _ = b
        TensorPool.releaseIdle()
        XCTAssertEqual(TensorPool.usage.idle, 0)
        XCTAssertEqual(TensorPool.usage.highWater, TensorPool.usage.live)
    }
}
