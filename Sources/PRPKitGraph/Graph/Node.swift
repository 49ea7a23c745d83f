/// A named graph input and its declared shape (the batch dimension may differ at run time).
public struct ValueInfo: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
}

/// One operation of a graph. Its single output value carries the node's `name`.
public struct Node: Equatable, Sendable {
    public var name: String
    public var op: Op
    /// Names of the values consumed (graph inputs or other nodes), in op order.
    public var inputs: [String]
    /// Parameter role (`weight`, `bias`, …) → name of a tensor in the graph's parameters.
    public var parameters: [String: String]

    public init(name: String, op: Op, inputs: [String], parameters: [String: String] = [:]) {
        self.name = name; self.op = op; self.inputs = inputs; self.parameters = parameters
    }
}
