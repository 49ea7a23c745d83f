import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Malformed model files: each must be rejected with its own specific error.
final class ModelFileMalformedTests: XCTestCase {
    /// A safetensors image from a raw header text and data bytes (length field optional).
    func file(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = length ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    func jsonString(_ s: String) -> String { JSONWriter.write(.string(s)) }

    /// A model file with the given graph JSON, metadata overrides and tensors.
    func model(graph: String, tensors: [(String, Tensor)] = [], metadata: [String: String]? = nil) -> [UInt8] {
        var meta = metadata ?? ["format": "prpkit", "format_version": "1"]
        meta["graph"] = graph
        return SafeTensors.encode(tensors, metadata: meta)
    }

    func assertRejects(_ bytes: [UInt8], _ fragment: String, unsupported: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) }, file: file, line: line) { error in
            guard let e = error as? PRPKitError else { return XCTFail("\(error)", file: file, line: line) }
            switch (e, unsupported) {
            case (.invalidModel, false), (.unsupported, true): break
            default: XCTFail("wrong error kind: \(e)", file: file, line: line)
            }
            XCTAssertTrue(e.message.contains(fragment), "'\(e.message)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    let relu = #"{"inputs":[{"name":"x","shape":[1,4]}],"nodes":[{"name":"r","op":"relu","inputs":["x"],"attributes":{},"parameters":{}}],"outputs":["r"]}"#

    func linear(_ weight: String = "w") -> String {
        #"{"inputs":[{"name":"x","shape":[1,2]}],"nodes":[{"name":"fc","op":"linear","inputs":["x"],"attributes":{},"parameters":{"weight":"\#(weight)"}}],"outputs":["fc"]}"#
    }

    func testValidMinimalFilesLoad() throws {
        for bytes in [model(graph: relu), model(graph: linear(), tensors: [("w", Tensor(zeros: [3, 2]))])] {
            XCTAssertNoThrow(try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) })
        }
    }

    func testContainer() {
        assertRejects([1, 0, 0], "shorter than the 8-byte header length")
        let good = model(graph: relu)
        assertRejects(Array(good[0..<40]), "exceeds the 32 bytes after the length field")
        assertRejects(file(header: "{}", length: 1 << 40), "exceeds the limit of 104857600 bytes")
        assertRejects(file(header: "{}", length: UInt64.max), "exceeds the limit")
        assertRejects(file(header: "[]"), "does not start with '{'")
        assertRejects(file(header: #"{"a": }"#), "invalid JSON at byte 6")
        assertRejects(file(header: #"{"__metadata__":{"a":1}}"#), "__metadata__ entry 'a' is not a string")
        assertRejects(file(header: #"{"__metadata__":[]}"#), "__metadata__ must be an object")
    }

    func testTensorEntries() {
        let f32 = [UInt8](repeating: 0, count: 16)
        assertRejects(file(header: #"{"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}"#, data: Array(f32[0..<8])),
                      "has dtype F16; prpkit model parameters must be float32 (F32)", unsupported: true)
        assertRejects(file(header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, data: Array(f32[0..<12])),
                      "shape [2, 2] needs 16 bytes but data_offsets [0, 12] span 12")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                           data: Array(f32[0..<12])), "overlap 'a'")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: Array(f32[0..<8])),
                      "data_offsets [0, 16] lie beyond the 8-byte data section")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(f32[0..<8])),
                      "bytes [0, 4) of the data section belong to no tensor")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: Array(f32[0..<8])),
                      "the data section has 8 bytes but the tensors cover 4")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                           data: Array(f32[0..<8])), "duplicate key 'a'")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: Array(f32[0..<4])),
                      "shape entries must be non-negative integers")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: Array(f32[0..<4])),
                      "'data_offsets' must be two integers")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: Array(f32[0..<4])),
                      "is too large")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#, data: Array(f32[0..<4])),
                      "unknown field 'x'")
        assertRejects(file(header: #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: Array(f32[0..<4])),
                      "missing or non-string 'dtype'")
    }

    func testMetadata() {
        assertRejects(SafeTensors.encode([], metadata: [:]), "metadata has no 'format' entry")
        assertRejects(model(graph: relu, metadata: ["format": "other", "format_version": "1"]), "metadata format is 'other'")
        assertRejects(model(graph: relu, metadata: ["format": "prpkit"]), "no 'format_version' entry")
        assertRejects(model(graph: relu, metadata: ["format": "prpkit", "format_version": "2"]),
                      "format_version '2' is not supported", unsupported: true)
        assertRejects(SafeTensors.encode([], metadata: ["format": "prpkit", "format_version": "1"]), "no 'graph' entry")
        assertRejects(model(graph: relu, metadata: ["format": "prpkit", "format_version": "1", "extra": ""]),
                      "unknown metadata entry 'extra'")
        assertRejects(model(graph: "{\"inputs\": ["), "metadata 'graph': invalid JSON at byte 12")
    }

    func testGraphFields() {
        assertRejects(model(graph: "[]"), "graph must be a JSON object")
        assertRejects(model(graph: #"{"inputs":{},"nodes":[],"outputs":[]}"#), "graph.inputs must be an array")
        assertRejects(model(graph: #"{"nodes":[],"outputs":[]}"#), "graph.inputs is missing")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""outputs":["r"]"#, with: #""outputs":["r"],"x":1"#)),
                      "graph: unknown field 'x'")
        assertRejects(model(graph: relu.replacingOccurrences(of: "[1,4]", with: "[1,0]")),
                      "graph.inputs[0].shape: entries must be positive integers")
        assertRejects(model(graph: relu.replacingOccurrences(of: "[1,4]", with: "[1,2.5]")), "positive integers")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""name":"r""#, with: #""name":7"#)),
                      "graph.nodes[0].name must be a string")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""inputs":["x"]"#, with: #""inputs":"x""#)),
                      "node 'r': inputs must be an array")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""parameters":{}"#, with: #""parameters":[]"#)),
                      "node 'r': parameters must be an object")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""outputs":["r"]"#, with: #""outputs":[1]"#)),
                      "graph.outputs must be a string")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""attributes":{}"#, with: #""attributes":{},"rule":"x""#)),
                      "graph.nodes[0]: unknown field 'rule'")
    }

    func testOpsAndStructure() {
        assertRejects(model(graph: relu.replacingOccurrences(of: #""op":"relu""#, with: #""op":"no_such_op""#)),
                      "node 'r': unknown op kind 'no_such_op'", unsupported: true)
        assertRejects(model(graph: relu.replacingOccurrences(of: #""attributes":{}"#, with: #""attributes":{"inplace":true}"#)),
                      "node 'r' (relu): unknown attribute 'inplace'")
        assertRejects(model(graph: linear("missing"), tensors: []), "node 'fc' references missing parameter 'missing'")
        assertRejects(model(graph: linear(), tensors: [("w", Tensor(zeros: [3, 2])), ("spare", Tensor(zeros: [1]))]),
                      "tensor 'spare' is not referenced by any node")
        let cycle = #"{"inputs":[{"name":"x","shape":[1,4]}],"nodes":[{"name":"a","op":"add","inputs":["x","b"]},{"name":"b","op":"relu","inputs":["a"]}],"outputs":["b"]}"#
        assertRejects(model(graph: cycle), "graph has a cycle")
        assertRejects(model(graph: relu.replacingOccurrences(of: #""outputs":["r"]"#, with: #""outputs":["q"]"#)),
                      "graph output 'q' is not a value of the graph")
        // Parameter of the wrong shape for the op: rejected at load by shape inference.
        XCTAssertThrowsError(try model(graph: linear(), tensors: [("w", Tensor(zeros: [3, 5]))])
            .withUnsafeBytes { try ModelFile.load(bytes: $0) })
    }

    func testPathIsNamedInFileErrors() throws {
        let path = NSTemporaryDirectory() + "prpkit-bad-\(getpid()).prpk"
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        XCTAssertThrowsError(try ModelFile.load(path: path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): safetensors: file is 3 bytes"), "\(error)")
        }
    }
}
