/// A parameter a graph does not keep as a tensor: `make` computes its floats when they
/// are needed, from tensors the graph (or the model file) holds anyway. A PRP composite's
/// BatchNorm-folded convolution weights are deferred: the forward packs each once, and
/// that packing is the only stored copy of the folded weight (the model file's weights
/// are memory-mapped, and `make` gives their pages back after reading them).
///
/// `make` must return the same floats on every call (it is a pure function of immutable
/// inputs) and be safe to call from several threads at once.
public struct DeferredParameter: @unchecked Sendable {
    public let shape: [Int]
    public let make: @Sendable () -> Tensor

    public init(shape: [Int], make: @escaping @Sendable () -> Tensor) {
        self.shape = shape
        self.make = make
    }
}

extension Graph {
    /// The parameter tensor bound to `role` on `node` (nil when optional and absent).
    /// A deferred parameter is made for this call (see `parameter(named:)`).
    public func parameter(_ node: Node, _ role: String) -> Tensor? {
        node.parameters[role].flatMap { parameter(named: $0) }
    }

    /// The shape of the parameter bound to `role` on `node`, without making it.
    public func parameterShape(_ node: Node, _ role: String) -> [Int]? {
        node.parameters[role].flatMap { parameterShapes[$0] }
    }

    /// The parameter `name`: the stored tensor, or a deferred parameter's floats made now —
    /// unpacked from the forward's packing of a convolution that uses it as its weight
    /// when there is one in a GEMM layout (an exact copy, no file read), else by its
    /// `make`. A made tensor is not kept; callers that need it repeatedly keep it.
    public func parameter(named name: String) -> Tensor? {
        if let t = storedParameters[name] { return t }
        return deferredParameter(name, sign: 0)
    }

    /// max(W, 0) (`positive`) or min(W, 0) of the weight bound to `node`, in one pass from
    /// the forward's packing when the weight is deferred and packed; nil for a stored
    /// weight (the caller maps it).
    package func deferredWeightPart(_ node: Node, positive: Bool) -> Tensor? {
        guard let name = node.parameters["weight"], deferredParameters[name] != nil else { return nil }
        return deferredParameter(name, sign: positive ? 1 : -1)
    }

    private func deferredParameter(_ name: String, sign: Int) -> Tensor? {
        guard let deferred = deferredParameters[name] else { return nil }
        for node in nodes where node.parameters["weight"] == name {
            if case .conv2d = node.op, let packed = packedConvWeights.gemmPacking(node.name, shape: deferred.shape) {
                return packed.unpacked(sign: sign)
            }
        }
        guard let t = made(name) else { return nil }
        if sign == 0 { return t }
        return sign > 0 ? Kernels.map(t) { max($0, 0) } : Kernels.map(t) { min($0, 0) }
    }

    /// The parameter `name` from its source alone: stored, or made by the deferred
    /// parameter's `make` (never from a packing; for code that runs while the packing
    /// cache is locked).
    package func made(_ name: String) -> Tensor? {
        if let t = storedParameters[name] { return t }
        guard let deferred = deferredParameters[name] else { return nil }
        let t = deferred.make()
        MemoryTrace.mark("made \(name)")
        precondition(t.shape == deferred.shape, "prpkit: deferred parameter '\(name)' made \(t.shape), declared \(deferred.shape)")
        return t
    }

    /// Whether the parameter bound to `role` on `node` is deferred (not stored).
    public func isDeferred(_ node: Node, _ role: String) -> Bool {
        node.parameters[role].map { deferredParameters[$0] != nil } ?? false
    }
}
