/// Attribute encoding of each op in the model file's graph JSON (docs/model-format.md).
/// Decoding validates every attribute: type, range and unknown keys.
extension Op {
    /// The op's attributes as a JSON object (keys in a fixed order).
    public var attributesJSON: JSONValue {
        func pair(_ p: Pair2) -> JSONValue { .array([.number(Double(p.h)), .number(Double(p.w))]) }
        // The shortest decimal that reads back as the same Float (1e-05, not
        // 9.999999747378752e-06), as Python writes it.
        func real(_ f: Float) -> JSONValue { .number(Double(String(f)) ?? Double(f)) }
        switch self {
        case .conv2d(let a):
            return .object([("stride", pair(a.stride)), ("padding", pair(a.padding)),
                            ("dilation", pair(a.dilation)), ("groups", .number(Double(a.groups)))])
        case .maxPool2d(let a):
            return .object([("kernel", pair(a.kernel)), ("stride", pair(a.stride)),
                            ("padding", pair(a.padding)), ("dilation", pair(a.dilation)),
                            ("ceil_mode", .bool(a.ceilMode))])
        case .avgPool2d(let a):
            return .object([("kernel", pair(a.kernel)), ("stride", pair(a.stride)),
                            ("padding", pair(a.padding)), ("ceil_mode", .bool(a.ceilMode)),
                            ("count_include_pad", .bool(a.countIncludePad)),
                            ("divisor_override", a.divisorOverride.map { .number(Double($0)) } ?? .null)])
        case .adaptiveAvgPool2d(let o):
            return .object([("output_size", pair(o))])
        case .batchNorm2d(let eps), .layerNorm(let eps):
            return .object([("epsilon", real(eps))])
        case .flatten(let s, let e):
            return .object([("start_dim", .number(Double(s))), ("end_dim", .number(Double(e)))])
        case .reshape(let shape):
            return .object([("shape", .array(shape.map { .number(Double($0)) }))])
        case .concat(let axis):
            return .object([("axis", .number(Double(axis)))])
        case .l2Distance(let mode):
            return .object([("mode", .string(mode.rawValue))])
        case .logSimilarity(let eps):
            return .object([("epsilon", real(eps))])
        case .expSimilarity(let eps, let logp):
            return .object([("epsilon", real(eps)), ("log_probabilities", .bool(logp))])
        case .linear, .relu, .sigmoid, .tanh, .activation, .dropout, .add, .mul, .channelScale, .softmax, .spatialMin, .spatialMax:
            return .object([])
        }
    }

    /// Builds an op from its kind and JSON attributes. `context` names the node in errors.
    public init(kind: String, attributes: JSONValue, context: String) throws {
        let a = try AttributeReader(attributes, context: "\(context) (\(kind))")
        switch kind {
        case "conv2d":
            let attrs = Conv2dAttributes(
                stride: try a.pair("stride", min: 1), padding: try a.pair("padding", min: 0),
                dilation: try a.pair("dilation", min: 1), groups: try a.int("groups", min: 1))
            try a.finish(["stride", "padding", "dilation", "groups"])
            self = .conv2d(attrs)
        case "linear": try a.finish([]); self = .linear
        case "max_pool2d":
            let attrs = MaxPool2dAttributes(
                kernel: try a.pair("kernel", min: 1), stride: try a.pair("stride", min: 1),
                padding: try a.pair("padding", min: 0), dilation: try a.pair("dilation", min: 1),
                ceilMode: try a.bool("ceil_mode"))
            try a.finish(["kernel", "stride", "padding", "dilation", "ceil_mode"])
            self = .maxPool2d(attrs)
        case "avg_pool2d":
            let attrs = AvgPool2dAttributes(
                kernel: try a.pair("kernel", min: 1), stride: try a.pair("stride", min: 1),
                padding: try a.pair("padding", min: 0), ceilMode: try a.bool("ceil_mode"),
                countIncludePad: try a.bool("count_include_pad"),
                divisorOverride: try a.optionalInt("divisor_override", min: 1))
            try a.finish(["kernel", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"])
            self = .avgPool2d(attrs)
        case "adaptive_avg_pool2d":
            let o = try a.pair("output_size", min: 1)
            try a.finish(["output_size"])
            self = .adaptiveAvgPool2d(output: o)
        case "batch_norm2d":
            let eps = try a.float("epsilon", min: 0)
            try a.finish(["epsilon"])
            self = .batchNorm2d(epsilon: eps)
        case "layer_norm":
            let eps = try a.float("epsilon", min: 0)
            try a.finish(["epsilon"])
            self = .layerNorm(epsilon: eps)
        case "channel_scale": try a.finish([]); self = .channelScale
        case "softmax": try a.finish([]); self = .softmax
        case "mul": try a.finish([]); self = .mul
        case "relu": try a.finish([]); self = .relu
        case "sigmoid": try a.finish([]); self = .sigmoid
        case "tanh": try a.finish([]); self = .tanh
        case let name where Activation(rawValue: name) != nil: try a.finish([]); self = .activation(Activation(rawValue: name)!)
        case "dropout": try a.finish([]); self = .dropout
        case "add": try a.finish([]); self = .add
        case "flatten":
            let s = try a.int("start_dim"), e = try a.int("end_dim")
            try a.finish(["start_dim", "end_dim"])
            self = .flatten(start: s, end: e)
        case "reshape":
            let shape = try a.intArray("shape")
            guard shape.count < SafeTensors.maxRank else {  // the output is [N] + shape
                throw PRPKitError.invalidModel("\(a.context): attribute 'shape' has more than \(SafeTensors.maxRank - 1) entries")
            }
            try a.finish(["shape"])
            self = .reshape(shape: shape)
        case "concat":
            let axis = try a.int("axis")
            try a.finish(["axis"])
            self = .concat(axis: axis)
        case "l2_distance":
            let name = try a.string("mode")
            guard let mode = DistanceMode(rawValue: name) else {
                throw PRPKitError.invalidModel("\(a.context): unknown distance mode '\(name)'")
            }
            try a.finish(["mode"])
            self = .l2Distance(mode: mode)
        case "log_similarity":
            let eps = try a.float("epsilon", min: 0)
            try a.finish(["epsilon"])
            self = .logSimilarity(epsilon: eps)
        case "exp_similarity":
            let eps = try a.float("epsilon", min: 0), logp = try a.bool("log_probabilities")
            try a.finish(["epsilon", "log_probabilities"])
            self = .expSimilarity(epsilon: eps, logProbabilities: logp)
        case "spatial_min": try a.finish([]); self = .spatialMin
        case "spatial_max": try a.finish([]); self = .spatialMax
        default:
            throw PRPKitError.unsupported("\(context): unknown op kind '\(kind)'")
        }
    }
}

/// Typed, validating access to a node's attribute object.
package struct AttributeReader {
    package let members: [(String, JSONValue)]
    package let context: String

    package init(_ value: JSONValue, context: String) throws {
        guard case .object(let m) = value else {
            throw PRPKitError.invalidModel("\(context): attributes must be a JSON object")
        }
        members = m
        self.context = context
    }

    package func value(_ key: String) throws -> JSONValue {
        guard let v = members.first(where: { $0.0 == key })?.1 else {
            throw PRPKitError.invalidModel("\(context): missing attribute '\(key)'")
        }
        return v
    }

    static package func exactInt(_ v: JSONValue) -> Int? {
        guard case .number(let d) = v, d.rounded() == d, abs(d) <= 9.0e15 else { return nil }
        return Int(d)
    }

    package func int(_ key: String, min lower: Int = Int.min) throws -> Int {
        guard let i = AttributeReader.exactInt(try value(key)), i >= lower, i <= 1 << 40 else {
            throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be an integer ≥ \(lower)")
        }
        return i
    }

    package func optionalInt(_ key: String, min lower: Int) throws -> Int? {
        if case .null = try value(key) { return nil }
        return try int(key, min: lower)
    }

    package func pair(_ key: String, min lower: Int) throws -> Pair2 {
        guard case .array(let items) = try value(key), items.count == 2,
              let h = AttributeReader.exactInt(items[0]), let w = AttributeReader.exactInt(items[1]),
              h >= lower, w >= lower, h <= 1 << 20, w <= 1 << 20 else {
            throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be two integers ≥ \(lower)")
        }
        return Pair2(h, w)
    }

    package func intArray(_ key: String) throws -> [Int] {
        guard case .array(let items) = try value(key) else {
            throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be an array of integers")
        }
        return try items.map {
            guard let i = AttributeReader.exactInt($0), abs(i) <= 1 << 40 else {
                throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be an array of integers")
            }
            return i
        }
    }

    package func bool(_ key: String) throws -> Bool {
        guard case .bool(let b) = try value(key) else {
            throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be true or false")
        }
        return b
    }

    package func float(_ key: String, min lower: Double) throws -> Float {
        guard case .number(let d) = try value(key), d.isFinite, Float(d).isFinite, d >= lower else {
            throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be a finite number ≥ \(lower)")
        }
        return Float(d)
    }

    package func string(_ key: String) throws -> String {
        guard case .string(let s) = try value(key) else {
            throw PRPKitError.invalidModel("\(context): attribute '\(key)' must be a string")
        }
        return s
    }

    /// Rejects attributes the op does not know, so typos never pass silently.
    package func finish(_ known: Set<String>) throws {
        if let extra = members.first(where: { !known.contains($0.0) }) {
            throw PRPKitError.invalidModel("\(context): unknown attribute '\(extra.0)'")
        }
    }
}
