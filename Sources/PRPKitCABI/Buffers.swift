import CPRPKit
import PRPKit

/// The largest rank a shape crosses the ABI with (PRPKIT_MAX_RANK).
let maxRank = Int(PRPKIT_MAX_RANK)

/// Reading `prpkit_input` arrays and filling `prpkit_output` arrays (include/prpkit.h).
enum Buffers {
    /// The shapes of `count` prpkit_input structs (their data is not looked at).
    /// `ranks[i]`, when given, is the rank input i must have; `names[i]` names it in messages.
    static func shapes(_ inputs: UnsafeRawPointer?, count: Int, ranks: [Int]?, names: [String]) throws -> [[Int]] {
        let inputs = try required(inputs, "inputs").assumingMemoryBound(to: prpkit_input.self)
        return try (0..<count).map { i in
            let slot = inputs[i]
            let name = names[i]
            let rank = slot.rank
            if let ranks, rank != ranks[i] {
                throw ABIError.invalidArgument("\(name): rank is \(UInt(bitPattern: rank)), the model declares rank \(ranks[i])")
            }
            guard rank >= 1, rank <= maxRank else {
                throw ABIError.invalidArgument("\(name): rank \(UInt(bitPattern: rank)) is out of range 1...\(maxRank)")
            }
            guard let shapePointer = slot.shape else {
                throw ABIError.invalidArgument("\(name): shape must not be NULL")
            }
            let shape = try (0..<rank).map { d -> Int in
                let extent = shapePointer[d]
                guard extent > 0 && extent <= Int64(ShapeMath.maxElements) else {
                    throw ABIError.invalidArgument("\(name): extent \(extent) in dimension \(d) is out of range")
                }
                return Int(extent)
            }
            _ = try ShapeMath.count(shape, name)
            return shape
        }
    }

    /// Wraps `count` prpkit_input structs as tensors, without copying (see `shapes`).
    static func tensors(_ inputs: UnsafeRawPointer?, count: Int, ranks: [Int]?, names: [String]) throws -> [Tensor] {
        let shapes = try shapes(inputs, count: count, ranks: ranks, names: names)
        let slots = inputs!.assumingMemoryBound(to: prpkit_input.self)
        return try shapes.enumerated().map { i, shape in
            guard let data = slots[i].data else {
                throw ABIError.invalidArgument("\(names[i]): data must not be NULL")
            }
            // Borrowed, never written: kernels do not write into their inputs.
            return Tensor(borrowing: UnsafeMutablePointer(mutating: data), shape: shape)
        }
    }

    /// Writes each shape into its prpkit_output slot, then checks capacities: throws
    /// BUFFER_TOO_SMALL (shapes already written) when any slot is too small.
    static func prepareOutputs(_ outputs: UnsafeMutableRawPointer?, shapes: [[Int]], names: [String]) throws {
        let outputs = try required(outputs, "outputs").assumingMemoryBound(to: prpkit_output.self)
        var shortfalls: [String] = []
        for (i, shape) in shapes.enumerated() {
            let slot = outputs + i
            guard shape.count <= maxRank else {
                throw ABIError.unsupported("\(names[i]) has rank \(shape.count) > PRPKIT_MAX_RANK")
            }
            withUnsafeMutableBytes(of: &slot.pointee.shape) { raw in
                let extents = raw.bindMemory(to: Int64.self)
                for (d, extent) in shape.enumerated() { extents[d] = Int64(extent) }
            }
            slot.pointee.rank = shape.count
            let capacity = UInt(bitPattern: slot.pointee.capacity)  // size_t ≥ 2^63 arrives negative
            let needed = try ShapeMath.count(shape, names[i])
            if capacity < UInt(needed) {
                shortfalls.append("\(names[i]) needs \(needed) floats, capacity is \(capacity)")
            } else if needed > 0, slot.pointee.data == nil {
                throw ABIError.invalidArgument("\(names[i]): data must not be NULL when capacity > 0")
            }
        }
        if !shortfalls.isEmpty { throw ABIError.bufferTooSmall(shortfalls.joined(separator: "; ")) }
    }

    /// Copies tensors into slots already checked by `prepareOutputs`.
    static func write(_ tensors: [Tensor], to outputs: UnsafeMutableRawPointer) {
        let slots = outputs.assumingMemoryBound(to: prpkit_output.self)
        for (i, tensor) in tensors.enumerated() where tensor.count > 0 {
            slots[i].data!.update(from: tensor.data, count: tensor.count)
        }
    }

    /// Writes `text` NUL-terminated into `buffer` of `capacity` bytes; `length` (may be
    /// NULL) receives its length without the NUL, also when the buffer is too small.
    static func writeText(_ text: String, _ what: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int,
                          length: UnsafeMutablePointer<Int>?) throws {
        let bytes = Array(text.utf8)
        length?.pointee = bytes.count
        guard UInt(bitPattern: capacity) > UInt(bytes.count) else {  // size_t ≥ 2^63 arrives negative
            throw ABIError.bufferTooSmall("\(what) needs \(bytes.count + 1) bytes, capacity is \(UInt(bitPattern: capacity))")
        }
        let buffer = try required(buffer, "buffer")
        for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
        buffer[bytes.count] = 0
    }
}
