/// Rules and composites described as JSON (docs/explainer-config.md): the form in which
/// they cross the C ABI and the Python boundary.
public struct ExplainerConfig: Equatable, Sendable {
    /// nil = the model as it is (Captum's defaults); else CaBRNet's PRP composite.
    public var composite: PRPCompositeOptions?
    /// Explicit rules; they override the composite's.
    public var rules = RuleSet()
    /// How many forward states (and bytes) the explainer keeps for reuse across calls.
    public var forwardCache = ForwardStateCache.Limits()

    public init(composite: PRPCompositeOptions? = nil, rules: RuleSet = RuleSet(),
                forwardCache: ForwardStateCache.Limits = .init()) {
        self.composite = composite; self.rules = rules; self.forwardCache = forwardCache
    }

    public init(json text: String) throws {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch let e as PRPKitError {
            throw PRPKitError.invalidArgument("explainer config: \(e.message)")
        }
        let top = try ConfigReader(value, "explainer config")
        try top.allow(["composite", "composite_options", "rules", "forward_cache"])
        if let v = top["forward_cache"] {
            let r = try ConfigReader(v, "forward_cache")
            try r.allow(["states", "megabytes"])
            func count(_ key: String, _ limit: Int) throws -> Int? {
                guard let f = try r.float(key) else { return nil }
                guard f >= 0, f <= Float(limit), f == f.rounded() else {
                    throw PRPKitError.invalidArgument("forward_cache.\(key) must be an integer in 0...\(limit)")
                }
                return Int(f)
            }
            forwardCache.states = try count("states", 1 << 16) ?? forwardCache.states
            forwardCache.bytes = try count("megabytes", 1 << 24).map { $0 << 20 } ?? forwardCache.bytes
        }
        switch top[ "composite"] {
        case nil, .null?: guard top["composite_options"] == nil else {
                throw PRPKitError.invalidArgument("explainer config: composite_options given without a composite")
            }
        case .string(let name)? where name == "cabrnet_prp" || name == "prpkit_prp":
            var o = name == "prpkit_prp" ? PRPCompositeOptions.corrected : PRPCompositeOptions()
            if let v = top["composite_options"] {
                let r = try ConfigReader(v, "composite_options")
                try r.allow(Set(["set_bias_to_zero", "stability_factor", "use_zbeta", "zbeta_lower_bound", "zbeta_upper_bound",
                                 "similarity_head"] + (name == "prpkit_prp" ? ["input_mean", "input_std", "gamma"] : [])))
                if name == "prpkit_prp" {
                    o.inputMean = try r.floats("input_mean") ?? o.inputMean
                    o.inputStd = try r.floats("input_std") ?? o.inputStd
                    o.gamma = try r.float("gamma") ?? o.gamma
                    guard o.gamma >= 0 else { throw PRPKitError.invalidArgument("composite_options.gamma must be ≥ 0") }
                    guard !o.inputMean.isEmpty, o.inputMean.count == o.inputStd.count, o.inputStd.allSatisfy({ $0 > 0 }) else {
                        throw PRPKitError.invalidArgument("composite_options: input_mean and input_std need one value per channel, std > 0")
                    }
                }
                o.similarityHead = try r.bool("similarity_head") ?? o.similarityHead
                o.setBiasToZero = try r.bool("set_bias_to_zero") ?? o.setBiasToZero
                o.stabilityFactor = try r.float("stability_factor") ?? o.stabilityFactor
                o.useZBeta = try r.bool("use_zbeta") ?? o.useZBeta
                o.zBetaLowerBound = try r.float("zbeta_lower_bound") ?? o.zBetaLowerBound
                o.zBetaUpperBound = try r.float("zbeta_upper_bound") ?? o.zBetaUpperBound
            }
            composite = o
        default:
            throw PRPKitError.invalidArgument("explainer config: composite must be null, \"cabrnet_prp\" or \"prpkit_prp\"")
        }
        if let rulesValue = top["rules"] {
            let r = try ConfigReader(rulesValue, "rules")
            try r.allow(["by_node", "by_kind"])
            for (key, target) in [("by_node", \RuleSet.byNode), ("by_kind", \RuleSet.byKind)] as [(String, WritableKeyPath<RuleSet, [String: Rule]>)] {
                guard let v = r[key] else { continue }
                guard case .object(let members) = v else {
                    throw PRPKitError.invalidArgument("rules.\(key) must be an object")
                }
                for (name, ruleValue) in members {
                    rules[keyPath: target][name] = try Rule(json: ruleValue, context: "rules.\(key).\(name)")
                }
            }
        }
    }
}

/// Typed access to a config object; optional keys, strict types, unknown keys rejected.
struct ConfigReader {
    let members: [(String, JSONValue)]
    let context: String

    init(_ value: JSONValue, _ context: String) throws {
        guard case .object(let m) = value else { throw PRPKitError.invalidArgument("\(context) must be a JSON object") }
        members = m; self.context = context
    }

    subscript(key: String) -> JSONValue? { members.first { $0.0 == key }?.1 }

    func allow(_ keys: Set<String>) throws {
        if let extra = members.first(where: { !keys.contains($0.0) }) {
            throw PRPKitError.invalidArgument("\(context): unknown key '\(extra.0)'")
        }
    }

    /// An array of finite numbers, or nil when the key is absent or holds a single number.
    func floats(_ key: String) throws -> [Float]? {
        guard case .array(let items)? = self[key] else { return nil }
        return try items.map {
            guard case .number(let d) = $0, d.isFinite, Float(d).isFinite else {
                throw PRPKitError.invalidArgument("\(context).\(key) must hold finite numbers")
            }
            return Float(d)
        }
    }

    func float(_ key: String) throws -> Float? {
        guard let v = self[key] else { return nil }
        guard case .number(let d) = v, d.isFinite, Float(d).isFinite else {
            throw PRPKitError.invalidArgument("\(context).\(key) must be a finite number")
        }
        return Float(d)
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = self[key] else { return nil }
        guard case .bool(let b) = v else { throw PRPKitError.invalidArgument("\(context).\(key) must be true or false") }
        return b
    }
}
