/// A validated computation graph: inputs, nodes in topological order, outputs, and the
/// parameter tensors the nodes reference by name.
///
/// Construction checks everything a forward pass relies on — unique names, known
/// inputs, no cycles, present parameters of the right shapes, and inferred shapes for
/// the declared input shapes — so that an invalid model fails at load, never mid-run.
/// A `Graph` is immutable and safe to share between threads.
public final class Graph: @unchecked Sendable {
    public let inputs: [ValueInfo]
    /// Nodes in an order where every node follows the producers of its inputs.
    public let nodes: [Node]
    public let outputs: [String]
    /// The parameters the graph holds as tensors.
    public let storedParameters: [String: Tensor]
    /// The parameters the graph does not hold: made on demand (see `DeferredParameter`).
    public let deferredParameters: [String: DeferredParameter]
    /// Shape of every parameter, stored or deferred.
    public let parameterShapes: [String: [Int]]
    /// Every parameter by name. Deferred ones are made for this call (each time it is
    /// called): prefer `parameter(_:_:)`, `parameter(named:)` or `parameterShapes`.
    public var parameters: [String: Tensor] {
        deferredParameters.isEmpty ? storedParameters
            : storedParameters.merging(deferredParameters.map { ($0.key, parameter(named: $0.key)!) }) { a, _ in a }
    }
    /// Shape of every value (inputs and node outputs) for the declared input shapes.
    public private(set) var shapes: [String: [Int]] = [:]
    /// Packed convolution weights by node, made on a node's first forward use.
    package let packedConvWeights = PackedConvWeightCache()

    /// `deferred`: parameters made on demand instead of stored (names distinct from
    /// `parameters`'); a convolution weight among them must have the op's weight shape.
    public init(inputs: [ValueInfo], nodes: [Node], outputs: [String], parameters: [String: Tensor],
                deferred: [String: DeferredParameter] = [:]) throws {
        guard !inputs.isEmpty else { throw PRPKitError.invalidModel("graph has no inputs") }
        guard !outputs.isEmpty else { throw PRPKitError.invalidModel("graph has no outputs") }
        var producers: [String: Int] = [:]
        var names = Set<String>()
        for input in inputs {
            guard !input.name.isEmpty, names.insert(input.name).inserted else {
                throw PRPKitError.invalidModel("graph input name '\(input.name)' is empty or repeated")
            }
            guard !input.shape.isEmpty, input.shape.allSatisfy({ $0 > 0 && $0 <= 1 << 31 }) else {
                throw PRPKitError.invalidModel("graph input '\(input.name)' has invalid shape \(input.shape)")
            }
        }
        for (i, node) in nodes.enumerated() {
            guard !node.name.isEmpty, names.insert(node.name).inserted else {
                throw PRPKitError.invalidModel("node name '\(node.name)' is empty or repeated")
            }
            producers[node.name] = i
        }
        for node in nodes {
            if let arity = node.op.arity, node.inputs.count != arity {
                throw PRPKitError.invalidModel("node '\(node.name)' (\(node.op.kind)) takes \(arity) input(s), has \(node.inputs.count)")
            }
            if node.inputs.isEmpty { throw PRPKitError.invalidModel("node '\(node.name)' has no inputs") }
            for input in node.inputs where !names.contains(input) {
                throw PRPKitError.invalidModel("node '\(node.name)' reads unknown value '\(input)'")
            }
            let roles = node.op.parameterRoles
            for role in roles.required where node.parameters[role] == nil {
                throw PRPKitError.invalidModel("node '\(node.name)' (\(node.op.kind)) lacks parameter '\(role)'")
            }
            for (role, tensorName) in node.parameters {
                guard roles.required.contains(role) || roles.optional.contains(role) else {
                    throw PRPKitError.invalidModel("node '\(node.name)' (\(node.op.kind)) has unknown parameter role '\(role)'")
                }
                guard parameters[tensorName] != nil || deferred[tensorName] != nil else {
                    throw PRPKitError.invalidModel("node '\(node.name)' references missing parameter '\(tensorName)'")
                }
            }
        }
        for output in outputs where !names.contains(output) {
            throw PRPKitError.invalidModel("graph output '\(output)' is not a value of the graph")
        }
        self.inputs = inputs
        self.nodes = try Graph.topologicalOrder(nodes, producers: producers)
        self.outputs = outputs
        for name in deferred.keys where parameters[name] != nil {
            throw PRPKitError.invalidModel("parameter '\(name)' is both stored and deferred")
        }
        self.storedParameters = parameters
        self.deferredParameters = deferred
        self.parameterShapes = parameters.mapValues(\.shape).merging(deferred.mapValues(\.shape)) { a, _ in a }
        do {
            self.shapes = try inferShapes(inputs.map(\.shape))
        } catch PRPKitError.invalidArgument(let message) {
            // At construction the shapes are the model's own: a failure is the model's fault.
            throw PRPKitError.invalidModel("for the declared input shapes: \(message)")
        }
    }

    /// Kahn's algorithm, stable: among ready nodes the earliest in the given order runs first.
    static package func topologicalOrder(_ nodes: [Node], producers: [String: Int]) throws -> [Node] {
        var pending = nodes.map { node in Set(node.inputs.compactMap { producers[$0] }).count }
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            for p in Set(node.inputs.compactMap({ producers[$0] })) { consumers[p].append(i) }
        }
        // A min-heap of ready indices: O(n log n) even when thousands of nodes are ready
        // at once (a hostile file must not make loading quadratic).
        var ready = MinHeap((0..<nodes.count).filter { pending[$0] == 0 })
        var order: [Node] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.pop() {
            order.append(nodes[i])
            for c in consumers[i] {
                pending[c] -= 1
                if pending[c] == 0 { ready.push(c) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = (0..<nodes.count).first { pending[$0] > 0 }.map { nodes[$0].name } ?? "?"
            throw PRPKitError.invalidModel("graph has a cycle through node '\(stuck)'")
        }
        return order
    }

    /// Shapes of every value for the given input shapes (same rank as declared; any
    /// extents that the ops accept). Throws `.invalidArgument` naming the first node
    /// that cannot take its inputs or whose output would exceed `ShapeMath.maxElements`.
    public func inferShapes(_ inputShapes: [[Int]]) throws -> [String: [Int]] {
        guard inputShapes.count == inputs.count else {
            throw PRPKitError.invalidArgument("model takes \(inputs.count) input(s), got \(inputShapes.count)")
        }
        var shapes: [String: [Int]] = [:]
        for (info, shape) in zip(inputs, inputShapes) {
            guard shape.count == info.shape.count, shape.allSatisfy({ $0 > 0 }) else {
                throw PRPKitError.invalidArgument(
                    "input '\(info.name)' must have rank \(info.shape.count) and positive extents (declared \(info.shape)), got \(shape)")
            }
            _ = try ShapeMath.count(shape, "input '\(info.name)'")
            shapes[info.name] = shape
        }
        for node in nodes {
            let params = node.parameters.mapValues { parameterShapes[$0]! }
            let ins = node.inputs.map { shapes[$0]! }
            let shape = try ShapeInference.outputShape(of: node, inputs: ins, parameters: params)
            _ = try ShapeMath.count(shape, "node '\(node.name)' output")
            shapes[node.name] = shape
        }
        return shapes
    }
}

/// A binary min-heap of node indices.
package struct MinHeap {
    private var items: [Int]

    /// `sorted` must be ascending (a valid heap).
    package init(_ sorted: [Int]) { items = sorted }

    mutating package func push(_ x: Int) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating package func pop() -> Int? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < items.count && items[l] < items[smallest] { smallest = l }
            if r < items.count && items[r] < items[smallest] { smallest = r }
            if smallest == i { break }
            items.swapAt(i, smallest)
            i = smallest
        }
        return top
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Per-graph cache of packed convolution weights, keyed by node name (a graph's nodes and
/// parameters never change). Thread-safe: a node's packing is made once, under the lock.
final package class PackedConvWeightCache: @unchecked Sendable {
    private let packs = Locked<[String: PackedConvWeights]>([:])

    package init() {}

    /// The packing of `weight` for node `name` in the given layout, made now if absent or
    /// made for another kernel set (tests switch ISA levels).
    package func packed(_ name: String, weight: Tensor, groups: Int, layout: ConvWeightLayout) -> PackedConvWeights {
        packed(name, shape: weight.shape, groups: groups, layout: layout) { weight }
    }

    /// The same for a weight that is not stored: `make` computes it (of `shape`) when a
    /// packing has to be made; it lives only until the packing is.
    package func packed(_ name: String, shape: [Int], groups: Int, layout: ConvWeightLayout,
                make: () -> Tensor) -> PackedConvWeights {
        packs.withLock { packs in
            let key = name + layout.cacheSuffix
            let ks = GEMMKernelSet.current
            if let p = packs[key], p.matches(shape, groups: groups, layout: layout, kernels: ks) { return p }
            let weight = make()
            precondition(weight.shape == shape, "prpkit: a weight to pack has shape \(weight.shape), expected \(shape)")
            let p = PackedConvWeights(weight: weight, groups: groups, layout: layout, kernels: ks)
            packs[key] = p
            return p
        }
    }

    /// A packing of node `name`'s weight (of `shape`) in a GEMM layout (direct or
    /// transposed), made for any kernel set: `PackedConvWeights.unpacked` recovers the
    /// weight from it exactly. nil if there is none (not yet run, or Winograd only).
    package func gemmPacking(_ name: String, shape: [Int]) -> PackedConvWeights? {
        packs.withLock { packs in
            for layout in [ConvWeightLayout.direct, .transposed] {
                if let p = packs[name + layout.cacheSuffix], p.shape == shape { return p }
            }
            return nil
        }
    }

    package var count: Int { packs.withLock { $0.count } }
}
