import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// A small graph with every parameterised op kind and a few plain ones.
enum ModelFileFixtures {
    static func tensor(_ shape: [Int], seed: Int) -> Tensor {
        let count = Tensor.elementCount(shape)
        // Deterministic values with varied mantissas, signs and a few exact specials.
        let values = (0..<count).map { i -> Float in
            let x = Float((i * 7919 + seed * 104729) % 2003) / 1001.5 - 1
            return i % 11 == 3 ? x * 1e-3 : x
        }
        return try! Tensor(shape: shape, values: values)
    }

    static func smallGraph() throws -> Graph {
        let params: [String: Tensor] = [
            "conv.weight": tensor([4, 3, 3, 3], seed: 1), "conv.bias": tensor([4], seed: 2),
            "bn.weight": tensor([4], seed: 3), "bn.bias": tensor([4], seed: 4),
            "bn.running_mean": tensor([4], seed: 5),
            "bn.running_var": try! Tensor(shape: [4], values: [0.5, 1, 1.5, 2]),
            "fc.weight": tensor([5, 64], seed: 6), "fc.bias": tensor([5], seed: 7),
        ]
        let nodes = [
            Node(name: "conv", op: .conv2d(Conv2dAttributes(padding: Pair2(1, 1))), inputs: ["x"],
                 parameters: ["weight": "conv.weight", "bias": "conv.bias"]),
            Node(name: "bn", op: .batchNorm2d(epsilon: 1e-5), inputs: ["conv"],
                 parameters: ["weight": "bn.weight", "bias": "bn.bias", "running_mean": "bn.running_mean",
                              "running_var": "bn.running_var"]),
            Node(name: "relu", op: .relu, inputs: ["bn"]),
            Node(name: "sum", op: .add, inputs: ["relu", "conv"]),
            Node(name: "pool", op: .maxPool2d(MaxPool2dAttributes(kernel: Pair2(2, 2))), inputs: ["sum"]),
            Node(name: "flat", op: .flatten(start: 1, end: -1), inputs: ["pool"]),
            Node(name: "fc", op: .linear, inputs: ["flat"], parameters: ["weight": "fc.weight", "bias": "fc.bias"]),
        ]
        return try Graph(inputs: [ValueInfo(name: "x", shape: [1, 3, 8, 8])], nodes: nodes,
                         outputs: ["fc", "pool"], parameters: params)
    }
}

/// Model file round trips: encode → load → encode must be bit-exact, and the loaded graph
/// must compute bit-identical outputs.
final class ModelFileTests: XCTestCase {
    func testRoundTripIsBitExact() throws {
        let graph = try ModelFileFixtures.smallGraph()
        let bytes = ModelFile.encode(graph)
        let loaded = try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) }
        XCTAssertEqual(ModelFile.encode(loaded), bytes)
        XCTAssertEqual(loaded.inputs, graph.inputs)
        XCTAssertEqual(loaded.nodes, graph.nodes)
        XCTAssertEqual(loaded.outputs, graph.outputs)
        XCTAssertEqual(Set(loaded.parameters.keys), Set(graph.parameters.keys))
        for (name, t) in graph.parameters {
            XCTAssertEqual(loaded.parameters[name]!.shape, t.shape)
            XCTAssertEqual(loaded.parameters[name]!.values.map(\.bitPattern), t.values.map(\.bitPattern), name)
        }
        let x = ModelFileFixtures.tensor([2, 3, 8, 8], seed: 9)
        let a = try graph.forward([x]).outputs, b = try loaded.forward([x]).outputs
        for (u, v) in zip(a, b) { XCTAssertEqual(u.values.map(\.bitPattern), v.values.map(\.bitPattern)) }
    }

    func testHeaderLayoutIsDeterministicAndAligned() throws {
        let bytes = ModelFile.encode(try ModelFileFixtures.smallGraph())
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + n) % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix(#"{"__metadata__":{"format":"prpkit","format_version":"1","graph":"#), header)
        XCTAssertTrue(header.contains(#""bn.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"#), header)
        XCTAssertEqual(ModelFile.encode(try ModelFileFixtures.smallGraph()), bytes)
    }

    func testSaveAndLoadThroughAFile() throws {
        let graph = try ModelFileFixtures.smallGraph()
        let path = NSTemporaryDirectory() + "prpkit-modelfile-\(getpid()).prpk"
        defer { unlink(path) }
        try ModelFile.save(graph, path: path)
        let loaded = try ModelFile.load(path: path)
        XCTAssertEqual(ModelFile.encode(loaded), ModelFile.encode(graph))
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual([UInt8](onDisk), ModelFile.encode(graph))
    }

    func testMissingFileIsAnIOError() {
        XCTAssertThrowsError(try ModelFile.load(path: "/nonexistent/model.prpk")) { error in
            guard case PRPKitError.io(let m) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(m.contains("/nonexistent/model.prpk") && m.contains("No such file"), m)
        }
        XCTAssertThrowsError(try ModelFile.load(path: "/tmp")) { error in
            guard case PRPKitError.io = error else { return XCTFail("\(error)") }
        }
    }

    func testSafeTensorsRoundTripWithoutGraph() throws {
        let t = ModelFileFixtures.tensor([2, 3], seed: 4)
        let scalar = try Tensor(shape: [], values: [42])
        let empty = Tensor(zeros: [0, 5])
        let bytes = SafeTensors.encode([("t", t), ("s", scalar), ("e", empty)], metadata: ["k": "v"])
        let (tensors, metadata) = try bytes.withUnsafeBytes { try SafeTensors.decode($0) }
        XCTAssertEqual(metadata, ["k": "v"])
        XCTAssertEqual(tensors["t"]!.values, t.values)
        XCTAssertEqual(tensors["s"]!.shape, [])
        XCTAssertEqual(tensors["s"]!.values, [42])
        XCTAssertEqual(tensors["e"]!.shape, [0, 5])
        XCTAssertEqual(SafeTensors.encode(tensors.map { ($0.key, $0.value) }, metadata: metadata), bytes)
    }

    /// Contract check with the Python exporter: every committed fixture model (written by
    /// python/prpkit) loads, and its canonical re-encoding is a fixed point.
    func testPythonWrittenFixturesLoad() throws {
        let root = String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/") + "/Fixtures"
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw XCTSkip("no fixtures at \(root)") }
        var count = 0
        while let file = walker.nextObject() as? String {
            guard file.hasSuffix(".prpkit") || file.hasSuffix(".prpk") else { continue }
            count += 1
            do {
                let graph = try ModelFile.load(path: root + "/" + file)
                let bytes = ModelFile.encode(graph)
                let again = try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) }
                XCTAssertEqual(ModelFile.encode(again), bytes, file)
            } catch {
                XCTFail("\(file): \(error)")
            }
        }
        if count == 0 { throw XCTSkip("no model fixtures under \(root)") }
    }

    /// Every prefix of a valid file, and many corrupted copies, must fail cleanly (or,
    /// for a harmless corruption, load) — never crash or read out of bounds.
    func testTruncationsAndCorruptionsNeverCrash() throws {
        let bytes = ModelFile.encode(try ModelFileFixtures.smallGraph())
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            XCTAssertThrowsError(try prefix.withUnsafeBytes { try ModelFile.load(bytes: $0) }, "length \(length)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var copy = bytes
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let i = Int.random(in: 0..<min(copy.count, 2048), using: &generator)
                copy[i] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? copy.withUnsafeBytes { try ModelFile.load(bytes: $0) }
        }
    }
}
