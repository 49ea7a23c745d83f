import PRPKit

/// Byte layouts of the C structs in include/prpkit.h (x86-64 / AArch64 LP64). Swift
/// reads and writes them through raw pointers at these offsets; examples/c/forward.c
/// asserts the same offsets with offsetof.
enum CLayout {
    static let maxRank = 8
    // prpkit_input { const float* data; const int64_t* shape; size_t rank; }
    static let inputStride = 24, inputData = 0, inputShape = 8, inputRank = 16
    // prpkit_output { float* data; size_t capacity; int64_t shape[8]; size_t rank; }
    static let outputStride = 88, outputData = 0, outputCapacity = 8, outputShape = 16, outputRank = 80
    // prpkit_forward_options { size_t struct_size; int num_threads; }
    static let optionsNumThreads = 8
}

@_cdecl("prpkit_model_forward")
public func prpkit_model_forward(_ model: OpaquePointer?,
                                 _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                 _ outputs: UnsafeMutableRawPointer?, _ nOutputs: Int,
                                 _ options: UnsafeRawPointer?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        var threads = 0
        if let options {
            let size = options.load(as: UInt.self)
            guard size >= UInt(MemoryLayout<UInt>.size) else {
                throw ABIError.invalidArgument("options.struct_size is \(size); initialize options with prpkit_forward_default_options()")
            }
            if size >= UInt(CLayout.optionsNumThreads + 4) {
                threads = Int(options.load(fromByteOffset: CLayout.optionsNumThreads, as: Int32.self))
                guard threads >= 0, threads <= Parallel.maximumThreads else {
                    throw ABIError.invalidArgument("options.num_threads must be in 0...\(Parallel.maximumThreads) (0 = the calling thread's setting), got \(threads)")
                }
            }
        }

        guard nInputs == graph.inputs.count else {
            throw ABIError.invalidArgument("model takes \(graph.inputs.count) input(s), n_inputs is \(UInt(bitPattern: nInputs))")
        }
        let tensors = try Buffers.tensors(inputs, count: nInputs, ranks: graph.inputs.map(\.shape.count),
                                          names: graph.inputs.enumerated().map { "input \($0.offset) ('\($0.element.name)')" })
        let shapes = try graph.inferShapes(tensors.map(\.shape))
        guard nOutputs == graph.outputs.count else {
            throw ABIError.invalidArgument("model has \(graph.outputs.count) output(s), n_outputs is \(UInt(bitPattern: nOutputs))")
        }
        try Buffers.prepareOutputs(outputs, shapes: graph.outputs.map { shapes[$0]! },
                                   names: graph.outputs.enumerated().map { "output \($0.offset) ('\($0.element)')" })
        let results = try Parallel.withThreadCount(threads == 0 ? Parallel.threadOverride : threads) {
            try graph.forward(tensors).outputs
        }
        Buffers.write(results, to: outputs!)
    }
}
