import PRPKit

/// Reading `prpkit_input` arrays and filling `prpkit_output` arrays (include/prpkit.h).
enum Buffers {
    /// Wraps `count` prpkit_input structs as tensors, without copying. `ranks[i]`, when
    /// given, is the rank input i must have; `names[i]` names it in messages.
    static func tensors(_ inputs: UnsafeRawPointer?, count: Int, ranks: [Int]?, names: [String]) throws -> [Tensor] {
        let inputs = try required(inputs, "inputs")
        var tensors: [Tensor] = []
        for i in 0..<count {
            let slot = inputs + i * CLayout.inputStride
            let name = names[i]
            let rank = slot.load(fromByteOffset: CLayout.inputRank, as: Int.self)
            if let ranks, rank != ranks[i] {
                throw ABIError.invalidArgument("\(name): rank is \(UInt(bitPattern: rank)), the model declares rank \(ranks[i])")
            }
            guard rank >= 1, rank <= CLayout.maxRank else {
                throw ABIError.invalidArgument("\(name): rank \(UInt(bitPattern: rank)) is out of range 1...\(CLayout.maxRank)")
            }
            guard let shapePointer = slot.load(fromByteOffset: CLayout.inputShape, as: UnsafePointer<Int64>?.self) else {
                throw ABIError.invalidArgument("\(name): shape must not be NULL")
            }
            var shape: [Int] = []
            for d in 0..<rank {
                let extent = shapePointer[d]
                guard extent > 0 && extent <= Int64(ShapeMath.maxElements) else {
                    throw ABIError.invalidArgument("\(name): extent \(extent) in dimension \(d) is out of range")
                }
                shape.append(Int(extent))
            }
            _ = try ShapeMath.count(shape, name)
            guard let data = slot.load(fromByteOffset: CLayout.inputData, as: UnsafePointer<Float>?.self) else {
                throw ABIError.invalidArgument("\(name): data must not be NULL")
            }
            // Borrowed, never written: kernels do not write into their inputs.
            tensors.append(Tensor(borrowing: UnsafeMutablePointer(mutating: data), shape: shape))
        }
        return tensors
    }

    /// Writes each shape into its prpkit_output slot, then checks capacities: throws
    /// BUFFER_TOO_SMALL (shapes already written) when any slot is too small.
    static func prepareOutputs(_ outputs: UnsafeMutableRawPointer?, shapes: [[Int]], names: [String]) throws {
        let outputs = try required(outputs, "outputs")
        var shortfalls: [String] = []
        for (i, shape) in shapes.enumerated() {
            let slot = outputs + i * CLayout.outputStride
            guard shape.count <= CLayout.maxRank else {
                throw ABIError.unsupported("\(names[i]) has rank \(shape.count) > PRPKIT_MAX_RANK")
            }
            for (d, extent) in shape.enumerated() {
                slot.storeBytes(of: Int64(extent), toByteOffset: CLayout.outputShape + 8 * d, as: Int64.self)
            }
            slot.storeBytes(of: shape.count, toByteOffset: CLayout.outputRank, as: Int.self)
            let capacity = UInt(bitPattern: slot.load(fromByteOffset: CLayout.outputCapacity, as: Int.self))
            let needed = try ShapeMath.count(shape, names[i])
            if capacity < UInt(needed) {
                shortfalls.append("\(names[i]) needs \(needed) floats, capacity is \(capacity)")
            } else if slot.load(fromByteOffset: CLayout.outputData, as: UnsafeMutablePointer<Float>?.self) == nil {
                throw ABIError.invalidArgument("\(names[i]): data must not be NULL when capacity > 0")
            }
        }
        if !shortfalls.isEmpty { throw ABIError.bufferTooSmall(shortfalls.joined(separator: "; ")) }
    }

    /// Copies tensors into slots already checked by `prepareOutputs`.
    static func write(_ tensors: [Tensor], to outputs: UnsafeMutableRawPointer) {
        for (i, tensor) in tensors.enumerated() {
            let slot = outputs + i * CLayout.outputStride
            let data = slot.load(fromByteOffset: CLayout.outputData, as: UnsafeMutablePointer<Float>.self)
            data.update(from: tensor.data, count: tensor.count)
        }
    }
}
