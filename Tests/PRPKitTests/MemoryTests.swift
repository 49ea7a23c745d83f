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
