#if canImport(Glibc)
import Glibc
#endif
import PRPKit

/// What a `prpkit_model*` points to: the immutable graph plus the C strings the query
/// functions hand out (owned here, freed with the model).
final class ModelHandle {
    let graph: Graph
    let inputNames: [UnsafeMutablePointer<CChar>]
    let outputNames: [UnsafeMutablePointer<CChar>]

    init(_ graph: Graph) {
        self.graph = graph
        inputNames = graph.inputs.map { strdup($0.name)! }
        outputNames = graph.outputs.map { strdup($0)! }
    }

    deinit {
        inputNames.forEach { free($0) }
        outputNames.forEach { free($0) }
    }

    /// The handle behind a non-NULL C pointer (borrowed: no retain).
    static func from(_ pointer: OpaquePointer?) throws -> ModelHandle {
        let pointer = try required(pointer, "model")
        return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

/// Stores a new handle in `*out` (NULL on failure) around a loader.
func loadModel(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ load: () throws -> Graph) -> Int32 {
    out?.pointee = nil
    return guarded {
        let out = try required(out, "out")
        let handle = ModelHandle(try load())
        out.pointee = OpaquePointer(Unmanaged.passRetained(handle).toOpaque())
    }
}

@_cdecl("prpkit_model_load")
public func prpkit_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadModel(out) {
        let path = try required(path, "path")
        return try ModelFile.load(path: String(cString: path))
    }
}

@_cdecl("prpkit_model_load_from_memory")
public func prpkit_model_load_from_memory(_ data: UnsafeRawPointer?, _ size: Int,
                                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadModel(out) {
        guard size >= 0 else { throw ABIError.invalidArgument("size is too large") }
        if size == 0 { return try ModelFile.load(bytes: UnsafeRawBufferPointer(start: nil, count: 0)) }
        let data = try required(data, "data")
        return try ModelFile.load(bytes: UnsafeRawBufferPointer(start: data, count: size))
    }
}

@_cdecl("prpkit_model_free")
public func prpkit_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("prpkit_model_save")
public func prpkit_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded {
        let handle = try ModelHandle.from(model)
        let path = try required(path, "path")
        try ModelFile.save(handle.graph, path: String(cString: path))
    }
}

// MARK: queries

@_cdecl("prpkit_model_num_inputs")
public func prpkit_model_num_inputs(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded { try required(out, "out").pointee = try ModelHandle.from(model).graph.inputs.count }
}

@_cdecl("prpkit_model_num_outputs")
public func prpkit_model_num_outputs(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded { try required(out, "out").pointee = try ModelHandle.from(model).graph.outputs.count }
}

func checkedIndex(_ index: Int, _ count: Int, _ what: String) throws -> Int {
    // size_t arrives as Int: values ≥ 2^63 look negative.
    guard index >= 0 && index < count else {
        throw ABIError.invalidArgument("\(what) index \(UInt(bitPattern: index)) is out of range (model has \(count))")
    }
    return index
}

@_cdecl("prpkit_model_input_name")
public func prpkit_model_input_name(_ model: OpaquePointer?, _ index: Int,
                                    _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guarded {
        let handle = try ModelHandle.from(model)
        let out = try required(out, "out")
        out.pointee = UnsafePointer(handle.inputNames[try checkedIndex(index, handle.inputNames.count, "input")])
    }
}

@_cdecl("prpkit_model_output_name")
public func prpkit_model_output_name(_ model: OpaquePointer?, _ index: Int,
                                     _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guarded {
        let handle = try ModelHandle.from(model)
        let out = try required(out, "out")
        out.pointee = UnsafePointer(handle.outputNames[try checkedIndex(index, handle.outputNames.count, "output")])
    }
}

/// Copies `shape` into a caller array of `capacity` entries; always writes `*rank`.
func copyShape(_ shape: [Int], _ out: UnsafeMutablePointer<Int64>?, _ capacity: Int,
               _ rank: UnsafeMutablePointer<Int>?) throws {
    let rank = try required(rank, "rank")
    rank.pointee = shape.count
    guard capacity < 0 || capacity >= shape.count else {  // size_t ≥ 2^63 arrives negative
        throw ABIError.bufferTooSmall("shape has rank \(shape.count), capacity is \(UInt(bitPattern: capacity))")
    }
    if shape.isEmpty { return }
    let out = try required(out, "shape")
    for (i, d) in shape.enumerated() { out[i] = Int64(d) }
}

@_cdecl("prpkit_model_input_shape")
public func prpkit_model_input_shape(_ model: OpaquePointer?, _ index: Int, _ shape: UnsafeMutablePointer<Int64>?,
                                     _ capacity: Int, _ rank: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        let i = try checkedIndex(index, graph.inputs.count, "input")
        try copyShape(graph.inputs[i].shape, shape, capacity, rank)
    }
}

@_cdecl("prpkit_model_output_shape")
public func prpkit_model_output_shape(_ model: OpaquePointer?, _ index: Int, _ shape: UnsafeMutablePointer<Int64>?,
                                      _ capacity: Int, _ rank: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        let i = try checkedIndex(index, graph.outputs.count, "output")
        guard let s = graph.shapes[graph.outputs[i]] else {
            throw ABIError(code: Status.internal, message: "no shape for output '\(graph.outputs[i])'")
        }
        try copyShape(s, shape, capacity, rank)
    }
}
