/// The graph description carried in a model file's metadata (docs/model-format.md):
///
///     {"inputs": [{"name", "shape"}], "nodes": [{"name", "op", "inputs", "attributes",
///      "parameters"}], "outputs": [names]}
///
/// Decoding checks the type of every field and rejects unknown keys; op attributes are
/// validated by `Op.init(kind:attributes:context:)`, the graph's structure by `Graph.init`.
enum GraphJSON {
    static func encode(_ graph: Graph) -> JSONValue {
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

    /// Builds and validates the graph over `parameters`.
    static func decode(_ json: JSONValue, parameters: [String: Tensor]) throws -> Graph {
        let top = try fields(json, "graph", known: ["inputs", "nodes", "outputs"])
        let inputs = try array(top["inputs"], "graph.inputs").enumerated().map { i, item -> ValueInfo in
            let context = "graph.inputs[\(i)]"
            let f = try fields(item, context, known: ["name", "shape"])
            let shape = try array(f["shape"], "\(context).shape").map { d -> Int in
                guard let v = AttributeReader.exactInt(d), v > 0, v <= 1 << 31 else {
                    throw PRPKitError.invalidModel("\(context).shape: entries must be positive integers")
                }
                return v
            }
            return ValueInfo(name: try string(f["name"], "\(context).name"), shape: shape)
        }
        let nodes = try array(top["nodes"], "graph.nodes").enumerated().map { i, item -> Node in
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
        let outputs = try array(top["outputs"], "graph.outputs").map { try string($0, "graph.outputs") }

        let referenced = Set(nodes.flatMap { $0.parameters.values })
        if let unused = parameters.keys.sorted().first(where: { !referenced.contains($0) }) {
            throw PRPKitError.invalidModel("tensor '\(unused)' is not referenced by any node")
        }
        return try Graph(inputs: inputs, nodes: nodes, outputs: outputs, parameters: parameters)
    }

    /// The members of an object, keyed; throws on a non-object or an unknown key.
    static func fields(_ value: JSONValue, _ context: String, known: Set<String>) throws -> [String: JSONValue] {
        guard case .object(let members) = value else { throw PRPKitError.invalidModel("\(context) must be a JSON object") }
        var out: [String: JSONValue] = [:]
        for (key, v) in members {
            guard known.contains(key) else { throw PRPKitError.invalidModel("\(context): unknown field '\(key)'") }
            out[key] = v
        }
        return out
    }

    static func array(_ value: JSONValue?, _ context: String) throws -> [JSONValue] {
        guard let value else { throw PRPKitError.invalidModel("\(context) is missing") }
        guard case .array(let items) = value else { throw PRPKitError.invalidModel("\(context) must be an array") }
        return items
    }

    static func string(_ value: JSONValue?, _ context: String) throws -> String {
        guard let value else { throw PRPKitError.invalidModel("\(context) is missing") }
        guard case .string(let s) = value else { throw PRPKitError.invalidModel("\(context) must be a string") }
        return s
    }
}
