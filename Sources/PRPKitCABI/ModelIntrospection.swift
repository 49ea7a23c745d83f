import CPRPKit
import PRPKit

// The graph, every value's shape and the parameters, so that callers (the Python
// package, tools) never parse the model file or re-implement shape inference.

@_cdecl("prpkit_model_graph_json")
public func prpkit_model_graph_json(_ model: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                    _ capacity: Int, _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        try Buffers.writeText(ModelFile.graphJSON(graph), "graph JSON", to: buffer, capacity: capacity, length: length)
    }
}

@_cdecl("prpkit_model_shapes_json")
public func prpkit_model_shapes_json(_ model: OpaquePointer?, _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                     _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                     _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        var inputShapes = graph.inputs.map(\.shape)
        if let inputs {
            guard nInputs == graph.inputs.count else {
                throw ABIError.invalidArgument("model takes \(graph.inputs.count) input(s), n_inputs is \(UInt(bitPattern: nInputs))")
            }
            inputShapes = try Buffers.shapes(inputs, count: nInputs, ranks: graph.inputs.map(\.shape.count),
                                             names: graph.inputs.enumerated().map { "input \($0.offset) ('\($0.element.name)')" })
        }
        let shapes = try graph.inferShapes(inputShapes)
        func shape(_ s: [Int]) -> JSONValue { .array(s.map { .number(Double($0)) }) }
        let values = graph.inputs.map(\.name) + graph.nodes.map(\.name)
        let document = JSONValue.object([
            ("values", .object(values.map { ($0, shape(shapes[$0]!)) })),
            ("parameters", .object(graph.parameterShapes.keys.sorted().map { ($0, shape(graph.parameterShapes[$0]!)) })),
        ])
        try Buffers.writeText(JSONWriter.write(document), "shapes JSON", to: buffer, capacity: capacity, length: length)
    }
}

@_cdecl("prpkit_model_parameter")
public func prpkit_model_parameter(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutableRawPointer?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        let name = String(cString: try required(name, "name"))
        guard let tensor = graph.parameter(named: name) else {
            throw ABIError.invalidArgument("the model has no parameter named '\(name)'")
        }
        try Buffers.prepareOutputs(out, shapes: [tensor.shape], names: ["parameter '\(name)'"])
        Buffers.write([tensor], to: out!)
    }
}

@_cdecl("prpkit_model_summary")
public func prpkit_model_summary(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                 _ metadataJSON: UnsafePointer<CChar>?, _ format: Int32,
                                 _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                 _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        guard format == Int32(PRPKIT_SUMMARY_TEXT) || format == Int32(PRPKIT_SUMMARY_JSON) else {
            throw ABIError.invalidArgument("format must be PRPKIT_SUMMARY_TEXT (0) or PRPKIT_SUMMARY_JSON (1), got \(format)")
        }
        let metadata = try metadataJSON.map { text -> JSONValue in
            do { return try JSONParser.parse(String(cString: text)) } catch {
                throw ABIError.invalidArgument("metadata_json is not valid JSON: \(error)")
            }
        }
        let summary = try ModelSummary(model: graph, path: path.map { String(cString: $0) }, metadata: metadata)
        let text = format == Int32(PRPKIT_SUMMARY_JSON) ? JSONWriter.write(summary.json) : summary.text
        try Buffers.writeText(text, "model summary", to: buffer, capacity: capacity, length: length)
    }
}
