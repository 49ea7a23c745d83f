/// The graph description carried in a model file's metadata (docs/model-format.md):
///
///     {"inputs": [{"name", "shape"}], "nodes": [{"name", "op", "inputs", "attributes",
///      "parameters"}], "outputs": [names]}
///
/// Decoding checks the type of every field and rejects unknown keys; op attributes are
/// validated by `Op.init(kind:attributes:context:)`, the graph's structure by `Graph.init`.
package enum GraphJSON {
    static package func encode(_ graph: Graph) -> JSONValue {
        .object([
            ("inputs", .array(graph.inputs.map { input in
                .object([("name", .string(input.name)), ("shape", .array(input.shape.map { .number(Double($0)) }))])
            })),
            ("nodes", .array(graph.nodes.map { node in
                .object([
                    ("name", .string(node.name)),
                    ("op", .string(node.op.kind)),
                    ("inputs", .array(node.inputs.map { .string($0) })),
                    ("attributes", node.op.attributesJSON),
                    ("parameters", .object(node.parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ])
            })),
            ("outputs", .array(graph.outputs.map { .string($0) })),
        ])
    }

    /// Most nodes one graph may have (large CNNs have a few thousand); a longer node list
    /// is rejected as soon as the excess node is read.
    public static let maxNodes = 1 << 16

    /// Decodes graph JSON text into its inputs, nodes and outputs, node by node (each
    /// node's tree is dropped once decoded), checking every field's type and rejecting
    /// unknown keys. The structure is checked by `Graph.init`.
    static package func decodeParts(_ text: UnsafeRawBufferPointer) throws -> (inputs: [ValueInfo], nodes: [Node], outputs: [String]) {
        var s = JSONStream(text, errorPrefix: "metadata 'graph': ")
        guard s.peek() == UInt8(ascii: "{") else { throw PRPKitError.invalidModel("graph must be a JSON object") }
        var inputs: [ValueInfo]? = nil
        var nodes: [Node]? = nil
        var outputs: [String]? = nil
        try s.object { s, key in
            switch key {
            case "inputs":
                inputs = try array(s.value(), "graph.inputs").enumerated().map { i, item in try input(item, i) }
            case "nodes":
                guard s.peek() == UInt8(ascii: "[") else { throw PRPKitError.invalidModel("graph.nodes must be an array") }
                var list: [Node] = []
                try s.array { s, i in
                    guard i < maxNodes else {
                        throw PRPKitError.invalidModel("graph.nodes: more than \(maxNodes) nodes (the limit of one graph)")
                    }
                    list.append(try node(s.value(), i))
                }
                nodes = list
            case "outputs":
                outputs = try array(s.value(), "graph.outputs").map { try string($0, "graph.outputs") }
            default:
                throw PRPKitError.invalidModel("graph: unknown field '\(key)'")
            }
        }
        try s.finish()
        guard let inputs else { throw PRPKitError.invalidModel("graph.inputs is missing") }
        guard let nodes else { throw PRPKitError.invalidModel("graph.nodes is missing") }
        guard let outputs else { throw PRPKitError.invalidModel("graph.outputs is missing") }
        return (inputs, nodes, outputs)
    }

    static package func input(_ item: JSONValue, _ i: Int) throws -> ValueInfo {
        let context = "graph.inputs[\(i)]"
        let f = try fields(item, context, known: ["name", "shape"])
        let dims = try array(f["shape"], "\(context).shape")
        guard dims.count <= SafeTensors.maxRank else {
            throw PRPKitError.invalidModel("\(context).shape: more than \(SafeTensors.maxRank) dimensions")
        }
        let shape = try dims.map { d -> Int in
            guard let v = AttributeReader.exactInt(d), v > 0, v <= 1 << 31 else {
                throw PRPKitError.invalidModel("\(context).shape: entries must be positive integers")
            }
            return v
        }
        return ValueInfo(name: try string(f["name"], "\(context).name"), shape: shape)
    }

    static package func node(_ item: JSONValue, _ i: Int) throws -> Node {
        let f = try fields(item, "graph.nodes[\(i)]", known: ["name", "op", "inputs", "attributes", "parameters"])
        let name = try string(f["name"], "graph.nodes[\(i)].name")
        let context = "node '\(name)'"
        let kind = try string(f["op"], "\(context): op")
        let nodeInputs = try array(f["inputs"], "\(context): inputs").map { try string($0, "\(context): inputs") }
        let op = try Op(kind: kind, attributes: f["attributes"] ?? .object([]), context: context)
        var roles: [String: String] = [:]
        if let p = f["parameters"] {
            guard case .object(let members) = p else {
                throw PRPKitError.invalidModel("\(context): parameters must be an object of role → tensor name")
            }
            for (role, value) in members { roles[role] = try string(value, "\(context): parameter '\(role)'") }
        }
        return Node(name: name, op: op, inputs: nodeInputs, parameters: roles)
    }

    /// The members of an object, keyed; throws on a non-object or an unknown key.
    static package func fields(_ value: JSONValue, _ context: String, known: Set<String>) throws -> [String: JSONValue] {
        guard case .object(let members) = value else { throw PRPKitError.invalidModel("\(context) must be a JSON object") }
        var out: [String: JSONValue] = [:]
        for (key, v) in members {
            guard known.contains(key) else { throw PRPKitError.invalidModel("\(context): unknown field '\(key)'") }
            out[key] = v
        }
        return out
    }

    static package func array(_ value: JSONValue?, _ context: String) throws -> [JSONValue] {
        guard let value else { throw PRPKitError.invalidModel("\(context) is missing") }
        guard case .array(let items) = value else { throw PRPKitError.invalidModel("\(context) must be an array") }
        return items
    }

    static package func string(_ value: JSONValue?, _ context: String) throws -> String {
        guard let value else { throw PRPKitError.invalidModel("\(context) is missing") }
        guard case .string(let s) = value else { throw PRPKitError.invalidModel("\(context) must be a string") }
        return s
    }
}
