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

/// Largest element count accepted for one input (keeps byte counts far from overflow).
private let maxElements = 1 << 40

@_cdecl("prpkit_model_forward")
public func prpkit_model_forward(_ model: OpaquePointer?,
                                 _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                 _ outputs: UnsafeMutableRawPointer?, _ nOutputs: Int,
                                 _ options: UnsafeRawPointer?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        if let options {
            let size = options.load(as: UInt.self)
            guard size >= UInt(MemoryLayout<UInt>.size) else {
                throw ABIError.invalidArgument("options.struct_size is \(size); initialize options with prpkit_forward_default_options()")
            }
            if size >= UInt(CLayout.optionsNumThreads + 4) {
                let threads = options.load(fromByteOffset: CLayout.optionsNumThreads, as: Int32.self)
                guard threads == 0 else {
                    throw ABIError.unsupported("options.num_threads = \(threads): per-call thread counts are not supported yet; use 0 and prpkit_set_num_threads()")
                }
            }
        }

        guard nInputs == graph.inputs.count else {
            throw ABIError.invalidArgument("model takes \(graph.inputs.count) input(s), n_inputs is \(UInt(bitPattern: nInputs))")
        }
        let inputs = try required(inputs, "inputs")
        var tensors: [Tensor] = []
        for i in 0..<nInputs {
            let slot = inputs + i * CLayout.inputStride
            let name = graph.inputs[i].name
            let rank = slot.load(fromByteOffset: CLayout.inputRank, as: Int.self)
            let declared = graph.inputs[i].shape.count
            guard rank == declared else {
                throw ABIError.invalidArgument("input \(i) ('\(name)'): rank is \(UInt(bitPattern: rank)), the model declares rank \(declared)")
            }
            guard let shapePointer = slot.load(fromByteOffset: CLayout.inputShape, as: UnsafePointer<Int64>?.self) else {
                throw ABIError.invalidArgument("input \(i) ('\(name)'): shape must not be NULL")
            }
            var shape: [Int] = []
            var count = 1
            for d in 0..<rank {
                let extent = shapePointer[d]
                guard extent > 0 && extent <= 1 << 31 else {
                    throw ABIError.invalidArgument("input \(i) ('\(name)'): extent \(extent) in dimension \(d) is out of range")
                }
                let (product, overflow) = count.multipliedReportingOverflow(by: Int(extent))
                count = product
                guard !overflow, count <= maxElements else {
                    throw ABIError.invalidArgument("input \(i) ('\(name)'): too many elements")
                }
                shape.append(Int(extent))
            }
            guard let data = slot.load(fromByteOffset: CLayout.inputData, as: UnsafePointer<Float>?.self) else {
                throw ABIError.invalidArgument("input \(i) ('\(name)'): data must not be NULL")
            }
            // Borrowed, never written: kernels do not write into their inputs.
            tensors.append(Tensor(borrowing: UnsafeMutablePointer(mutating: data), shape: shape))
        }

        let shapes = try graph.inferShapes(tensors.map(\.shape))
        guard nOutputs == graph.outputs.count else {
            throw ABIError.invalidArgument("model has \(graph.outputs.count) output(s), n_outputs is \(UInt(bitPattern: nOutputs))")
        }
        let outputs = try required(outputs, "outputs")
        var shortfalls: [String] = []
        for (i, name) in graph.outputs.enumerated() {
            let slot = outputs + i * CLayout.outputStride
            let shape = shapes[name]!
            guard shape.count <= CLayout.maxRank else {
                throw ABIError.unsupported("output '\(name)' has rank \(shape.count) > PRPKIT_MAX_RANK")
            }
            for (d, extent) in shape.enumerated() {
                slot.storeBytes(of: Int64(extent), toByteOffset: CLayout.outputShape + 8 * d, as: Int64.self)
            }
            slot.storeBytes(of: shape.count, toByteOffset: CLayout.outputRank, as: Int.self)
            let capacity = UInt(bitPattern: slot.load(fromByteOffset: CLayout.outputCapacity, as: Int.self))
            let needed = Tensor.elementCount(shape)
            if capacity < UInt(needed) {
                shortfalls.append("output \(i) ('\(name)') needs \(needed) floats, capacity is \(capacity)")
            } else if slot.load(fromByteOffset: CLayout.outputData, as: UnsafeMutablePointer<Float>?.self) == nil {
                throw ABIError.invalidArgument("output \(i) ('\(name)'): data must not be NULL when capacity > 0")
            }
        }
        if !shortfalls.isEmpty { throw ABIError.bufferTooSmall(shortfalls.joined(separator: "; ")) }

        let result = try graph.forward(tensors)
        for (i, tensor) in result.outputs.enumerated() {
            let slot = outputs + i * CLayout.outputStride
            let data = slot.load(fromByteOffset: CLayout.outputData, as: UnsafeMutablePointer<Float>.self)
            data.update(from: tensor.data, count: tensor.count)
        }
    }
}
