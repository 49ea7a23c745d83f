import CPRPKit
import Foundation
import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// prpkit_model_graph_json, prpkit_model_shapes_json and prpkit_model_parameter through
/// include/prpkit.h, against what the core itself holds for the same model file.
final class IntrospectionCallTests: XCTestCase {
    let path = HeaderCallTests.fixtures + "/models/protopnet_resnet18_layer1.prpkit"

    func loaded() throws -> (OpaquePointer, Graph) {
        var model: OpaquePointer?
        XCTAssertEqual(prpkit_model_load(path, &model), Int32(PRPKIT_OK), String(cString: prpkit_last_error()))
        return (try XCTUnwrap(model), try ModelFile.load(path: path))
    }

    /// Calls a text function twice (size, then content) and checks the size protocol.
    func text(_ call: (UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>) -> Int32) throws -> String {
        var length = -1
        XCTAssertEqual(call(nil, 0, &length), Int32(PRPKIT_ERROR_BUFFER_TOO_SMALL))
        XCTAssertGreaterThan(length, 0)
        var small = [CChar](repeating: 0x7F, count: length)  // one byte short of the NUL
        XCTAssertEqual(call(&small, length, &length), Int32(PRPKIT_ERROR_BUFFER_TOO_SMALL))
        var buffer = [CChar](repeating: 0x7F, count: length + 1)
        XCTAssertEqual(call(&buffer, buffer.count, &length), Int32(PRPKIT_OK), String(cString: prpkit_last_error()))
        XCTAssertEqual(buffer[length], 0)
        return String(cString: buffer)
    }

    func testGraphJSONIsTheFilesGraphDocument() throws {
        let (model, graph) = try loaded()
        defer { prpkit_model_free(model) }
        let json = try text { prpkit_model_graph_json(model, $0, $1, $2) }
        XCTAssertEqual(json, ModelFile.graphJSON(graph))
        let parsed = try JSONParser.parse(json)
        guard case .array(let nodes)? = parsed["nodes"] else { return XCTFail("no nodes array") }
        XCTAssertEqual(nodes.count, graph.nodes.count)
    }

    func testShapesAtDeclaredAndOtherInputShapes() throws {
        let (model, graph) = try loaded()
        defer { prpkit_model_free(model) }
        func expectShapes(_ json: String, _ inputShape: [Int]) throws {
            let parsed = try JSONParser.parse(json)
            let want = try graph.inferShapes([inputShape])
            guard case .object(let values)? = parsed["values"] else { return XCTFail("no values") }
            XCTAssertEqual(values.map(\.0), graph.inputs.map(\.name) + graph.nodes.map(\.name))
            for (name, value) in values {
                XCTAssertEqual(value, .array(want[name]!.map { .number(Double($0)) }), name)
            }
            guard case .object(let params)? = parsed["parameters"] else { return XCTFail("no parameters") }
            XCTAssertEqual(params.count, graph.parameters.count)
            for (name, value) in params {
                XCTAssertEqual(value, .array(graph.parameters[name]!.shape.map { .number(Double($0)) }), name)
            }
        }
        try expectShapes(try text { prpkit_model_shapes_json(model, nil, 0, $0, $1, $2) }, graph.inputs[0].shape)
        var other = graph.inputs[0].shape
        other[0] = 3; other[2] += 32; other[3] += 16
        let dims = other.map(Int64.init)
        try dims.withUnsafeBufferPointer { shape in
            var input = prpkit_input(data: nil, shape: shape.baseAddress, rank: dims.count)
            try expectShapes(try text { prpkit_model_shapes_json(model, &input, 1, $0, $1, $2) }, other)
            XCTAssertEqual(prpkit_model_shapes_json(model, &input, 2, nil, 0, nil), Int32(PRPKIT_ERROR_INVALID_ARGUMENT))
        }
        for bad: [Int64] in [[1, Int64(other[1]), 64], [1, Int64(other[1]), 0, 64], [1, Int64(other[1]) + 1, 64, 64]] {
            bad.withUnsafeBufferPointer { shape in
                var input = prpkit_input(data: nil, shape: shape.baseAddress, rank: bad.count)
                XCTAssertEqual(prpkit_model_shapes_json(model, &input, 1, nil, 0, nil), Int32(PRPKIT_ERROR_INVALID_ARGUMENT), "\(bad)")
            }
        }
    }

    func testParameterCopiesTheTensor() throws {
        let (model, graph) = try loaded()
        defer { prpkit_model_free(model) }
        let (name, tensor) = try XCTUnwrap(graph.parameters.max { $0.value.count < $1.value.count })
        var out = prpkit_output()
        XCTAssertEqual(prpkit_model_parameter(model, name, &out), Int32(PRPKIT_ERROR_BUFFER_TOO_SMALL))
        XCTAssertEqual(withUnsafeBytes(of: out.shape) { Array($0.bindMemory(to: Int64.self).prefix(out.rank)).map(Int.init) },
                       tensor.shape)
        var data = [Float](repeating: .nan, count: tensor.count)
        data.withUnsafeMutableBufferPointer { buffer in
            out.data = buffer.baseAddress
            out.capacity = buffer.count
            XCTAssertEqual(prpkit_model_parameter(model, name, &out), Int32(PRPKIT_OK), String(cString: prpkit_last_error()))
            for i in 0..<tensor.count { XCTAssertEqual(buffer[i].bitPattern, tensor.buffer[i].bitPattern) }
        }
        XCTAssertEqual(prpkit_model_parameter(model, "no such tensor", &out), Int32(PRPKIT_ERROR_INVALID_ARGUMENT))
        XCTAssertTrue(String(cString: prpkit_last_error()).contains("no such tensor"))
        XCTAssertEqual(prpkit_model_parameter(model, nil, &out), Int32(PRPKIT_ERROR_INVALID_ARGUMENT))
        XCTAssertEqual(prpkit_model_graph_json(nil, nil, 0, nil), Int32(PRPKIT_ERROR_INVALID_ARGUMENT))
    }
}
