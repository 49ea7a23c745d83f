/// A dense float32 tensor in C-contiguous (row-major) order; image tensors are NCHW as
/// in PyTorch and NumPy.
///
/// `Tensor` is a view onto shared storage: copying a `Tensor` value does not copy the
/// floats. Kernels never write into their inputs; they return fresh tensors.
public struct Tensor: @unchecked Sendable {
    /// Extent of each dimension, outermost first.
    public let shape: [Int]
    public let storage: TensorStorage

    /// Zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: Tensor.elementCount(shape))
    }

    /// A tensor whose contents are unspecified: for kernels that write every element.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: Tensor.elementCount(shape), zeroed: false)
    }

    /// Tensor holding `values` (row-major); `values.count` must equal the shape's product.
    public init(shape: [Int], values: [Float]) throws {
        let needed = try ShapeMath.count(shape, "tensor")
        guard values.count == needed else {
            throw PRPKitError.invalidArgument("tensor of shape \(shape) needs \(needed) values, got \(values.count)")
        }
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: values.count) }
        }
    }

    /// A tensor over caller memory; no copy is made and the memory is not freed.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(borrowing: pointer, count: Tensor.elementCount(shape))
    }

    /// A tensor over floats of a memory-mapped file (kept mapped while the tensor lives).
    package init(mapped pointer: UnsafeMutablePointer<Float>, shape: [Int], mapping: AnyObject) {
        self.shape = shape
        storage = TensorStorage(mapped: pointer, count: Tensor.elementCount(shape), mapping: mapping)
    }

    /// The same floats under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard ShapeMath.product(newShape) == count else {
            throw PRPKitError.invalidArgument("cannot reshape \(shape) to \(newShape)")
        }
        return Tensor(storage: storage, shape: newShape)
    }

    private init(storage: TensorStorage, shape: [Int]) {
        self.storage = storage
        self.shape = shape
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: storage.pointer, count: count) }

    /// A copy of the values, row-major.
    public var values: [Float] { Array(buffer) }

    /// An independent copy of the floats.
    public func copy() -> Tensor {
        let out = Tensor(zeros: shape)
        out.data.update(from: data, count: count)
        return out
    }

    /// Product of the extents (1 for a scalar shape `[]`). Only for shapes already
    /// bounded by `ShapeMath.count` (every shape from a file or a caller is).
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
}
