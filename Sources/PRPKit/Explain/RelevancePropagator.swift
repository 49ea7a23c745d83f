/// Captum-compatible relevance propagation over a graph (docs/semantics.md, section 1).
///
/// LRP here is a modified gradient. A signal starts at the output and flows back:
/// - a node whose rule hooks tensors divides the total signal at its output by
///   z' + ε·sign0(z') (z' = the node recomputed from the original inputs with the rule's
///   weights) and applies its vector–Jacobian product with those weights;
/// - on each value consumed by a hooking node, the first such consumer in forward order
///   owns a hook that multiplies the TOTAL signal arriving at the value (the sum over all
///   consumers) by the value — or, for IdentityRule, replaces it by the signal remembered
///   at that node's output;
/// - pass-through nodes hand the signal on unchanged; nodes without a rule apply their
///   ordinary backward.
///
/// One forward pass (`prepare`) serves any number of backward passes; K start signals per
/// example run as one batch of N·K rows (row r belongs to example r / K). `forwardState`
/// reuses the forward pass of the last input(s) across calls (`stateCache`).
public final class RelevancePropagator: @unchecked Sendable {
    public let graph: Graph
    /// Rule of every node; nil = ordinary backward.
    public let rules: [String: Rule?]
    /// Parameters recomputed under each node's rule (role → tensor, nil = dropped bias).
    let modifiedParameters: [String: [String: Tensor?]]
    /// Value name → the hooking node that owns its input hook.
    let hookOwner: [String: Node]
    /// IdentityRule node → how many values' hooks it owns.
    let identityHookCounts: [String: Int]
    /// W⁻ of z^B / α1β0 layers, made on first use: α1β0 needs it only for inputs with
    /// negative entries, which the PRP composite's layers after the first never see
    /// (post-ReLU). W⁺ is never stored: the forward maps it from the graph's packing of W
    /// while a layer runs, the backward makes it only to pack its flipped kernel (see
    /// `positiveWeight`, RuleLayers.swift).
    let negativeWeights = OnceMap<Tensor>()
    /// Packings of the flipped, transposed kernels that stride-1 convs propagate through
    /// (of W⁺ for CaBRNet's α1β0, of the rule's weight otherwise), made on first use from
    /// a kernel that exists only while it is packed: the packing is the one stored copy.
    let packedWeights = PackedConvWeightCache()
    /// The values whose activations a backward pass reads; the forward keeps no others.
    public let backwardReads: Set<String>
    /// Nodes whose forward-only quantities are computed during the forward pass.
    let preparedNodes: Set<String>
    /// Forward states of the last inputs, reused by `forwardState`.
    public let stateCache: ForwardStateCache

    public init(graph: Graph, rules: RuleSet = RuleSet(), cache: ForwardStateCache.Limits = .init()) throws {
        self.graph = graph
        let resolved = try rules.resolve(graph)
        self.rules = resolved
        var modified: [String: [String: Tensor?]] = [:]
        var owner: [String: Node] = [:]
        for node in graph.nodes {
            guard let hook = (resolved[node.name] ?? nil)?.definition.hook else { continue }
            for input in node.inputs where owner[input] == nil { owner[input] = node }
            // A modified weight means z' differs from the forward output: it is recomputed.
            guard let modify = hook.weight else { continue }
            var params: [String: Tensor?] = [:]
            if let w = graph.parameter(node, "weight") { params["weight"] = modify(w) }
            if hook.dropsBias, node.parameters["bias"] != nil { params["bias"] = .some(nil) }
            modified[node.name] = params
        }
        modifiedParameters = modified
        hookOwner = owner
        var identityHooks: [String: Int] = [:]
        for o in owner.values where (resolved[o.name] ?? nil)?.definition.hook?.input == .replaceBySignal {
            identityHooks[o.name, default: 0] += 1
        }
        identityHookCounts = identityHooks
        stateCache = ForwardStateCache(limits: cache)
        (backwardReads, preparedNodes) = RelevancePropagator.forwardNeeds(graph, resolved, hookOwner: owner)
    }

    /// Which activations the backward reads, and which nodes `prepare` visits.
    /// A value is read when its input hook multiplies by it — except when its only
    /// consumer is the node owning a replacing hook (IdentityRule): a signal there implies
    /// that node ran and remembered the replacement — and when a rule's own backward
    /// (`RuleDefinition.forwardNeeds`) or an ordinary VJP needs its values (not only its
    /// shape).
    static func forwardNeeds(_ graph: Graph, _ rules: [String: Rule?], hookOwner: [String: Node])
        -> (reads: Set<String>, prepared: Set<String>) {
        var consumers: [String: Set<String>] = [:]
        for node in graph.nodes { for input in node.inputs { consumers[input, default: []].insert(node.name) } }
        var reads = Set<String>(), prepared = Set<String>()
        for (value, owner) in hookOwner {
            if (rules[owner.name] ?? nil)?.definition.hook?.input == .replaceBySignal && consumers[value] == [owner.name] { continue }
            reads.insert(value)
        }
        for node in graph.nodes {
            let rule = rules[node.name] ?? nil
            if case .maxPool2d = node.op { prepared.insert(node.name) }
            if let needs = rule?.definition.forwardNeeds(node) {
                reads.formUnion(needs.reads)
                if needs.prepared { prepared.insert(node.name) }
            } else {
                switch node.op {
                // relu(x) > 0 exactly where x > 0: its output (kept anyway when the next
                // layer's rule reads it) gives the mask, so its input need not stay alive.
                case .relu, .softmax: reads.insert(node.name)
                case .sigmoid, .tanh, .activation, .layerNorm, .l2Distance, .logSimilarity, .expSimilarity: reads.insert(node.inputs[0])
                case .mul: reads.formUnion(node.inputs)
                default: break
                }
            }
            if let hook = rule?.definition.hook, !(hook.input == .replaceBySignal && node.inputs.allSatisfy({ hookOwner[$0]?.name == node.name })) {
                prepared.insert(node.name)  // its denominator
            }
        }
        return (reads, prepared)
    }

    /// W⁺ = max(W, 0) of a z^B / α1β0 node, made for one use (not kept).
    func positiveWeight(_ node: Node) -> Tensor {
        graph.deferredWeightPart(node, positive: true) ?? Kernels.map(graph.parameter(node, "weight")!) { max($0, 0) }
    }

    /// W⁻ = min(W, 0) of a z^B / α1β0 node.
    func negativeWeight(_ node: Node) -> Tensor {
        negativeWeights.value(node.name) {
            graph.deferredWeightPart(node, positive: false) ?? Kernels.map(graph.parameter(node, "weight")!) { min($0, 0) }
        }
    }

    /// Whether `node` has a replacing hook (IdentityRule) and owns the hook of every input.
    func replacesOwnInputs(_ node: Node, _ hook: TensorHook) -> Bool {
        hook.input == .replaceBySignal && node.inputs.allSatisfy { hookOwner[$0]?.name == node.name }
    }

    /// The forward state for `inputs`: the kept one when these exact inputs were seen last
    /// (see `ForwardStateCache`), else a new forward pass, kept if the limits allow.
    /// `shared` says whether the state is (now) in the cache: then the caller must not
    /// consume it in a backward pass.
    public func forwardState(_ inputs: [Tensor]) throws -> (state: ForwardState, shared: Bool) {
        if let state = stateCache.lookup(inputs) { return (state, true) }
        let state = try prepare(inputs)
        return (state, stateCache.insert(state))
    }

    /// Runs the forward pass once, keeping what every later backward pass needs and
    /// computing the rules' forward-only quantities while each node's inputs are alive.
    /// `retainingAll` keeps every value instead (tests compare both). `profile` records
    /// each node's forward and rule-forward work.
    public func prepare(_ inputs: [Tensor], retainingAll: Bool = false, profile: PassProfile? = nil) throws -> ForwardState {
        let owned = inputs.map { $0.copy() }
        let shapes = try graph.inferShapes(owned.map(\.shape))
        var denominators: [String: Tensor] = [:]
        var indices: [String: [Int32]] = [:]
        var caches: [String: any RuleCache] = [:]
        // Forward-only quantities of each node's rule.
        func prepareNode(_ node: Node, _ x: [Tensor], _ out: Tensor) throws {
            if case .maxPool2d(let a) = node.op {
                var idx = [Int32](repeating: 0, count: out.count)
                idx.withUnsafeMutableBufferPointer { _ = Kernels.maxPool2d(x[0], a, indices: $0.baseAddress) }
                indices[node.name] = idx
            }
            guard let rule = self.rules[node.name] ?? nil else { return }
            if let cache = try rule.definition.prepare(self, node, inputs: x, output: out) { caches[node.name] = cache }
            guard let hook = rule.definition.hook, !self.replacesOwnInputs(node, hook) else { return }
            var z = self.modifiedParameters[node.name].map { self.graph.evaluate(node, x, overrides: $0) } ?? out
            if let own = hook.denominator { z = own(self, node, x[0], z) }
            let eps = hook.epsilon
            denominators[node.name] = Kernels.signStabilized(z, eps)
        }
        let forward = try graph.forward(owned, retaining: retainingAll ? nil : backwardReads,
                                        observed: preparedNodes, profile: profile) { node, x, out in
            if let profile {
                try profile.time(node, "rule forward") { try prepareNode(node, x, out) }
            } else {
                try prepareNode(node, x, out)
            }
        }
        let state = ForwardState(batch: owned[0].shape[0], inputs: owned, outputs: forward.outputs, shapes: shapes,
                                 activations: forward.activations, denominators: denominators,
                                 maxPoolIndices: indices, ruleCaches: caches)
        MemoryTrace.mark("forward done (state: \(state.breakdown))")
        return state
    }

    /// Propagates `start` — the signal at graph output `outputIndex`, shaped
    /// (N·K, output dims…) — back to the graph inputs. Returns, per graph input, the
    /// signal after its hooks, shaped (N·K, input dims…). No multiplication by the output
    /// score is made here (Captum's last step is the caller's).
    /// `profile` records each node's backward work.
    public func propagate(_ state: ForwardState, start: Tensor, outputIndex: Int = 0,
                          profile: PassProfile? = nil) throws -> [Tensor] {
        try propagate(state, start: start, outputIndex: outputIndex, capturing: [], consuming: false, profile: profile).inputs
    }

    /// `propagate`, also reporting the signal at each value named in `capturing` (a node's
    /// output or a graph input) once it is complete and its input hook has been applied —
    /// what Captum's LayerLRP reads (`rule.relevance_output` / `relevance_input`), before
    /// its multiply by the output score. A value no signal reaches gives zeros.
    /// Returns the graph inputs' signals and the captured ones (in `capturing` order).
    public func propagate(_ state: ForwardState, start: Tensor, outputIndex: Int = 0,
                          capturing values: [String], profile: PassProfile? = nil) throws -> (inputs: [Tensor], captured: [Tensor]) {
        try propagate(state, start: start, outputIndex: outputIndex, capturing: values, consuming: false, profile: profile)
    }

    /// `consuming`: `state` is used by this backward only; each node's entries are
    /// dropped once it has been passed (the memory goes back while the signals grow).
    func propagate(_ state: ForwardState, start: Tensor, outputIndex: Int, capturing values: [String],
                   consuming: Bool, profile: PassProfile? = nil) throws -> (inputs: [Tensor], captured: [Tensor]) {
        let wanted = Set(values)
        for v in wanted where state.shapes[v] == nil {
            throw PRPKitError.invalidArgument("no value named '\(v)' in the graph")
        }
        var captured: [String: Tensor] = [:]
        guard outputIndex >= 0, outputIndex < graph.outputs.count else {
            throw PRPKitError.invalidArgument("output index \(outputIndex) out of range (model has \(graph.outputs.count))")
        }
        let outName = graph.outputs[outputIndex]
        let outShape = state.shapes[outName]!
        guard start.rank == outShape.count, start.shape[0] % state.batch == 0, start.shape[0] > 0,
              Array(start.shape.dropFirst()) == Array(outShape.dropFirst()) else {
            throw PRPKitError.invalidArgument(
                "start relevance must have shape (N·K, \(outShape.dropFirst().map(String.init).joined(separator: ", "))) with N = \(state.batch), got \(start.shape)")
        }
        // Every signal is (N·K, value dims…): each is bounded before any is allocated.
        for name in graph.inputs.map(\.name) + graph.nodes.map(\.name) {
            _ = try ShapeMath.count([start.shape[0]] + state.shapes[name]!.dropFirst(), "relevance signal at '\(name)'")
        }
        var signals: [String: Tensor] = [outName: start.copy()]
        // The signal at each IdentityRule node's output, kept until the last hook it
        // replaces has been applied (not to the end: that would hold one signal per
        // BatchNorm of the network for the whole pass).
        var remembered: [String: Tensor] = [:]
        var pendingHooks = identityHookCounts

        // The input hook on `value`, applied once its total signal is complete.
        func hooked(_ value: String, _ total: Tensor) -> Tensor {
            guard let owner = hookOwner[value] else { return total }
            if let r = remembered[owner.name] {
                pendingHooks[owner.name, default: 1] -= 1
                if pendingHooks[owner.name] == 0 { remembered[owner.name] = nil }
                return r
            }
            return Kernels.rowBroadcast(total, state.activation(value))
        }

        func backward(_ node: Node) throws {
            guard let incoming = signals.removeValue(forKey: node.name) else { return }
            var g = hooked(node.name, incoming)
            // A copy: later contributions may be accumulated into `g` in place.
            if wanted.contains(node.name) { captured[node.name] = g.copy() }
            let rule = rules[node.name] ?? nil, hook = rule?.definition.hook
            if let hook {
                if hook.input == .replaceBySignal { remembered[node.name] = g }
                // A node that owns every input hook and replaces the signal there: its
                // division and VJP would be discarded, so neither is computed.
                if !replacesOwnInputs(node, hook) {
                    g = Kernels.rowBroadcast(g, state.denominators[node.name]!, divide: true)
                }
            }
            let contributions: [Tensor?]
            if let hook, replacesOwnInputs(node, hook) {
                // Every input hook will replace the signal by the remembered one.
                contributions = node.inputs.map { _ in g }
            } else if let own = try rule?.definition.backward(self, node, g, state: state, cache: state.ruleCaches[node.name]) {
                contributions = own
            } else {
                contributions = try vectorJacobian(node, g, state: state, overrides: modifiedParameters[node.name] ?? [:])
            }
            if consuming { state.release(after: node) }
            for (name, c) in zip(node.inputs, contributions) {
                guard let c else { continue }
                if let existing = signals[name] { Kernels.accumulate(existing, c) } else { signals[name] = c }
            }
        }
        for node in graph.nodes.reversed() {
            if signals[node.name] == nil {
                if consuming { state.release(after: node) }
            } else if let profile {
                try profile.time(node, "backward") { try backward(node) }
            } else {
                try backward(node)
            }
            MemoryTrace.mark("backward \(node.name)")
        }
        let inputs = graph.inputs.map { info -> Tensor in
            guard let total = signals[info.name] else {
                return Tensor(zeros: [start.shape[0]] + Array(state.shapes[info.name]!.dropFirst()))
            }
            return hooked(info.name, total)
        }
        for (info, r) in zip(graph.inputs, inputs) where wanted.contains(info.name) { captured[info.name] = r }
        return (inputs, values.map { v in
            captured[v] ?? Tensor(zeros: [start.shape[0]] + Array(state.shapes[v]!.dropFirst()))
        })
    }
}
