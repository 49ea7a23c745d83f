/// A model described for people and scripts: its inputs and outputs, every node's output
/// shape and parameter count, and the rule each node gets under CaBRNet's PRP composite.
/// Both command lines (`prpkit info` in Python, `prpkit-run info` in Swift) print this one
/// description, as text or JSON, so they cannot drift apart.
public struct ModelSummary {
    /// The members `metadata` may carry that the summary shows (the command lines' sidecar
    /// JSON, written by `prpkit convert`); others are ignored.
    static let shownMetadata = ["description", "mean", "std", "class_names", "prototype_class",
                                "stated_test_accuracy", "test_accuracy"]

    /// The description as JSON: "model" and "file_bytes" (when a path was given),
    /// "inputs"/"outputs" ([name, shape] pairs), "parameter_count" (scalars in every stored
    /// tensor), "nodes" (name, op, inputs, output_shape, parameters, prp_rule,
    /// prp_rule_options), "prp_composite_outputs", "prp_composite_extra_nodes",
    /// "prp_composite_error" (why a prototype model has no composite; null otherwise) and
    /// "metadata" (when given).
    public let json: JSONValue

    /// - Parameters:
    ///   - model: the loaded graph.
    ///   - path: the model file, shown made absolute, with its size; nil to leave both out.
    ///   - metadata: a JSON object with the model's normalisation ("mean", "std": one
    ///     number per input channel, which set z^B's bounds as CaBRNet does) and
    ///     descriptive members (`shownMetadata`); nil for none.
    public init(model: Graph, path: String? = nil, metadata: JSONValue? = nil) throws {
        if let metadata {
            guard case .object = metadata else { throw PRPKitError.invalidArgument("the model metadata must be a JSON object") }
        }
        var members: [(String, JSONValue)] = []
        if let path {
            members.append(("model", .string(FileIO.absolute(path))))
            members.append(("file_bytes", .number(Double(try FileIO.size(path: path)))))
        }
        func shape(_ s: [Int]) -> JSONValue { .array(s.map { .number(Double($0)) }) }
        func pairs(_ values: [(String, [Int])]) -> JSONValue { .array(values.map { .array([.string($0.0), shape($0.1)]) }) }
        members.append(("inputs", pairs(model.inputs.map { ($0.name, $0.shape) })))
        members.append(("outputs", pairs(model.outputs.map { ($0, model.shapes[$0]!) })))
        members.append(("parameter_count", .number(Double(model.parameterShapes.values.reduce(0) { $0 + Tensor.elementCount($1) }))))

        let (composite, compositeError) = Self.composite(of: model, metadata: metadata)
        let compositeNodes = Set(composite?.graph.nodes.map(\.name) ?? [])
        let rules = composite?.propagator.rules ?? [:]
        members.append(("nodes", .array(model.nodes.map { node in
            let count = node.parameters.values.reduce(0) { $0 + (model.parameterShapes[$1].map(Tensor.elementCount) ?? 0) }
            var rule: JSONValue = .null, options: [(String, JSONValue)] = []
            if compositeNodes.contains(node.name), case .object(let r)? = (rules[node.name] ?? nil)?.json {
                rule = r.first { $0.0 == "rule" }?.1 ?? .null
                options = r.filter { $0.0 != "rule" }
            }
            return .object([("name", .string(node.name)), ("op", .string(node.op.kind)),
                            ("inputs", .array(node.inputs.map { .string($0) })),
                            ("output_shape", shape(model.shapes[node.name]!)), ("parameters", .number(Double(count))),
                            ("in_prp_composite", .bool(compositeNodes.contains(node.name))),
                            ("prp_rule", rule), ("prp_rule_options", .object(options))])
        })))
        let own = Set(model.nodes.map(\.name))
        members.append(("prp_composite_outputs", composite.map { c in pairs(c.graph.outputs.map { ($0, c.graph.shapes[$0]!) }) } ?? .null))
        members.append(("prp_composite_extra_nodes", .array((composite?.graph.nodes ?? []).filter { !own.contains($0.name) }.map { node in
            .object([("name", .string(node.name)), ("op", .string(node.op.kind)),
                     ("prp_rule", (rules[node.name] ?? nil)?.json["rule"] ?? .null)])
        })))
        members.append(("prp_composite_error", compositeError.map { .string($0) } ?? .null))
        if case .object(let m)? = metadata {
            members.append(("metadata", .object(Self.shownMetadata.compactMap { key in m.first { $0.0 == key } })))
        }
        json = .object(members)
    }

    /// CaBRNet's PRP composite of a prototype model (one with an l2_distance node), with
    /// z^B's bounds from the metadata's normalisation; (nil, nil) for other models and
    /// (nil, reason) when the composite cannot be built.
    static func composite(of model: Graph, metadata: JSONValue?) -> (Explainer?, String?) {
        guard model.nodes.contains(where: { if case .l2Distance = $0.op { return true } else { return false } }) else {
            return (nil, nil)
        }
        var options = PRPCompositeOptions()
        if let mean = numbers(metadata?["mean"]), let std = numbers(metadata?["std"]), mean.count == std.count, !mean.isEmpty {
            (options.zBetaLowerBound, options.zBetaUpperBound) = ZBetaDefaults.bounds(mean: mean, std: std)
        }
        do {
            return (try Explainer(model: model, config: ExplainerConfig(composite: options)), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    static func numbers(_ value: JSONValue?) -> [Double]? {
        guard case .array(let items)? = value else { return nil }
        let values = items.compactMap { item -> Double? in if case .number(let d) = item { return d } else { return nil } }
        return values.count == items.count ? values : nil
    }

    /// The description as an aligned table, one node per line, ending in a newline.
    public var text: String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        func shape(_ v: JSONValue?) -> String {
            guard case .array(let d)? = v else { return "" }
            return "(" + d.map { JSONWriter.write($0) }.joined(separator: ", ") + ")"
        }
        func pairs(_ v: JSONValue?) -> String {
            guard case .array(let items)? = v else { return "" }
            return items.map { item -> String in
                guard case .array(let p) = item, p.count == 2, case .string(let name) = p[0] else { return "" }
                return "\(name) \(shape(p[1]))"
            }.joined(separator: ", ")
        }
        func plain(_ v: JSONValue?) -> String {
            if case .string(let s)? = v { return s }
            return v.map(JSONWriter.write) ?? ""
        }
        let meta = json["metadata"]
        if case .string(let model)? = json["model"], case .number(let bytes)? = json["file_bytes"] {
            line("model       \(model) (\(Self.fixed(bytes / 1e6, digits: 2)) MB)")
        }
        if let description = meta?["description"] { line("            \(plain(description))") }
        line("inputs      " + pairs(json["inputs"]))
        line("outputs     " + pairs(json["outputs"]))
        if json["prp_composite_outputs"] != .null { line("PRP output  " + pairs(json["prp_composite_outputs"]) + " (similarity maps)") }
        if case .string(let error)? = json["prp_composite_error"] { line("PRP output  none: \(error)") }
        if case .number(let n)? = json["parameter_count"] {
            line("parameters  \(Self.grouped(Int(n))) (stored tensors, incl. BatchNorm statistics)")
        }
        if let accuracy = meta?["stated_test_accuracy"] { line("accuracy    \(plain(accuracy)) (held-out split, stated)") }

        guard case .array(let nodes)? = json["nodes"] else { return out }
        let hasComposite = json["prp_composite_outputs"] != .null
        var rows: [[String]] = [["node", "op", "output shape", "params", "PRP rule"]]
        for node in nodes {
            // Without a composite there is no PRP rule to show; inside it, a node without
            // a rule gets the ordinary backward.
            var rule = hasComposite ? "backward (VJP)" : "-"
            if case .string(let r)? = node["prp_rule"] {
                rule = r
                if case .object(let options)? = node["prp_rule_options"], !options.isEmpty {
                    rule += " (" + options.map { "\($0.0)=\(plain($0.1))" }.joined(separator: ", ") + ")"
                }
            } else if hasComposite, node["in_prp_composite"] == .bool(false) {
                rule = "(not in composite)"
            }
            let count: Int
            if case .number(let n)? = node["parameters"] { count = Int(n) } else { count = 0 }
            rows.append([plain(node["name"]), plain(node["op"]), shape(node["output_shape"]), Self.grouped(count), rule])
        }
        if case .array(let extra)? = json["prp_composite_extra_nodes"] {
            for node in extra { rows.append([plain(node["name"]), "(composite)", "", "", plain(node["prp_rule"])]) }
        }
        let widths = (0..<4).map { c in rows.map { $0[c].unicodeScalars.count }.max()! }
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.unicodeScalars.count))
            return right ? fill + s : s + fill
        }
        line()
        for row in rows {
            line(pad(row[0], widths[0]) + "  " + pad(row[1], widths[1]) + "  " + pad(row[2], widths[2]) + "  "
                 + pad(row[3], widths[3], right: true) + "  " + row[4])
        }
        return out
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `x` with exactly `digits` decimals (rounded half away from zero), without Foundation.
    static func fixed(_ x: Double, digits: Int) -> String {
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((x.magnitude * Double(scale)).rounded())
        let fraction = String(scaled % scale)
        return (x < 0 && scaled != 0 ? "-" : "") + "\(scaled / scale)."
            + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
