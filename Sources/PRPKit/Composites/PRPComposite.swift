/// Options of CaBRNet's `get_cabrnet_lrp_composite_model` (the seed), with its defaults.
public struct PRPCompositeOptions: Equatable, Sendable {
    public var setBiasToZero = true
    public var stabilityFactor: Float = 1e-6
    public var useZBeta = true
    public var zBetaLowerBound = ZBetaDefaults.lowerBound
    public var zBetaUpperBound = ZBetaDefaults.upperBound
    /// Replace a prototype head by the similarity map (DecisionLRPWrapper), as
    /// get_cabrnet_lrp_composite_model does; false for get_extractor_lrp_composite_model.
    public var similarityHead = true
    /// prpkit's corrected composite (docs/corrected-composite.md, chosen by
    /// bench/faithfulness.py): exact BatchNorm merge (the BatchNorm disappears); on the
    /// first conv LRP-ε with its zero padding referred to the image's edge (z^B with
    /// per-channel bounds from `inputMean`/`inputStd` if `useZBeta`); LRP-γ (γ = `gamma`)
    /// on the backbone's other convs; LRP-ε (ε = `stabilityFactor`, bias kept) on the
    /// add-on's convs and on the sigmoid; ε·sign0 on residual sums; the model's own
    /// similarity in the head and the similarity rule by contribution.
    public var corrected = false
    /// The corrected composite's γ on the backbone's convs after the first; 0 = LRP-ε there.
    public var gamma: Float = 0.25
    /// The input normalisation (per channel) the corrected z^B bounds derive from.
    public var inputMean: [Float] = [0.485, 0.456, 0.406]
    public var inputStd: [Float] = [0.229, 0.224, 0.225]
    public init() {}

    /// The corrected composite's defaults (LRP-ε on the first conv too; ImageNet
    /// normalisation for z^B if it is asked for).
    public static var corrected: PRPCompositeOptions {
        var o = PRPCompositeOptions()
        o.corrected = true
        o.useZBeta = false
        return o
    }
}

/// A graph prepared for PRP, with the rule of every node that needs one.
public struct Composite: @unchecked Sendable {
    public var graph: Graph
    public var rules: RuleSet
}

public enum Composites {
    /// CaBRNet 1.2's PRP composite as graph passes (docs/semantics.md, section 2):
    /// BatchNorm merged into the preceding conv and reset (it then computes x/√(1+ε)) with
    /// IdentityRule; residual adds → StackedSum; first conv → z^B (if `useZBeta`), every
    /// other conv → CaBRNet's Alpha1Beta0; max pooling → gradient; Sigmoid → identity.
    /// For a prototype model (an `l2_distance` node) the head is replaced as
    /// DecisionLRPWrapper does: the output becomes the similarity map (N, P, H, W),
    /// computed with torch.cdist distances and log((d + 1)/(d + 1e-4)).
    /// Otherwise (CaBRNet's generic branch) the whole graph is the extractor.
    ///
    /// The folded convolution weights are deferred parameters (`DeferredParameter`): the
    /// forward's packing of each is its only stored copy, and the model's own weights,
    /// from which they are remade on demand, give their mapped pages back after each read.
    public static func cabrnetPRP(_ graph: Graph, options: PRPCompositeOptions = PRPCompositeOptions()) throws -> Composite {
        try cabrnetPRP(graph, options: options, deferringFoldedWeights: true)
    }

    /// `deferringFoldedWeights` false stores the folded weights as tensors (tests compare both).
    static func cabrnetPRP(_ graph: Graph, options: PRPCompositeOptions, deferringFoldedWeights: Bool) throws -> Composite {
        let distance = options.similarityHead ? graph.nodes.first { $0.op.kind == "l2_distance" } : nil
        var scope = Set(graph.nodes.map(\.name))
        if let d = distance { scope = ancestors(of: d.inputs[0], in: graph) }

        var nodes = graph.nodes.filter { distance == nil || scope.contains($0.name) }
        var params = graph.storedParameters
        var deferred = graph.deferredParameters
        var byNode: [String: Rule] = [:]

        let mergePairs = BatchNormMerge.pairs(in: graph.nodes, scope: scope)
        for (convName, bnName) in mergePairs {
            let conv = nodes.first { $0.name == convName }!, bn = nodes.first { $0.name == bnName }!
            guard case .batchNorm2d(let eps) = bn.op else { continue }
            let weight = graph.parameter(conv, "weight")!
            let (gamma, variance) = (graph.parameter(bn, "weight")!, graph.parameter(bn, "running_var")!)
            let b = BatchNormMerge.foldBias(graph.parameter(conv, "bias"), gamma: gamma, beta: graph.parameter(bn, "bias")!,
                                            mean: graph.parameter(bn, "running_mean")!, variance: variance, epsilon: eps)
            let c = b.count
            if case .conv2d(let a) = conv.op, deferringFoldedWeights, Kernels.conv2dPacksWeights(weight.shape, a) {
                // Made when a packing is (or a rule needs the floats and no packing has
                // them); the model's tensors are read for that and their mapped pages given
                // back (the kernel may map a whole large folio, megabytes, around a small
                // tensor it reads, so the BatchNorm's tensors count too).
                deferred["\(convName).weight#merged"] = DeferredParameter(shape: weight.shape) {
                    let w = BatchNormMerge.foldWeight(weight, gamma: gamma, variance: variance, epsilon: eps)
                    for t in [weight, gamma, variance] { t.storage.releaseResidentPages() }
                    return w
                }
            } else {
                params["\(convName).weight#merged"] = BatchNormMerge.foldWeight(weight, gamma: gamma, variance: variance, epsilon: eps)
                // The composite uses the folded copy; a memory-mapped original need not stay resident.
                weight.storage.releaseResidentPages()
            }
            params["\(convName).bias#merged"] = b
            params["\(bnName)#reset.ones"] = Kernels.map(Tensor(zeros: [c])) { _ in 1 }
            params["\(bnName)#reset.zeros"] = Tensor(zeros: [c])
            for i in nodes.indices {
                if nodes[i].name == convName {
                    nodes[i].parameters = ["weight": "\(convName).weight#merged", "bias": "\(convName).bias#merged"]
                } else if nodes[i].name == bnName {
                    nodes[i].parameters = ["weight": "\(bnName)#reset.ones", "bias": "\(bnName)#reset.zeros",
                                           "running_mean": "\(bnName)#reset.zeros", "running_var": "\(bnName)#reset.ones"]
                }
            }
        }

        var outputs = graph.outputs
        if options.corrected {
            // Exact merge: the folded conv already computes the BatchNorm's output.
            let merged = Dictionary(uniqueKeysWithValues: mergePairs.map { ($0.bn, $0.conv) })
            nodes.removeAll { merged[$0.name] != nil }
            for i in nodes.indices { nodes[i].inputs = nodes[i].inputs.map { merged[$0] ?? $0 } }
            outputs = outputs.map { merged[$0] ?? $0 }
        }

        let mergedBatchNorms = Set(mergePairs.map(\.bn))
        var firstConv = true
        for node in nodes where scope.contains(node.name) {
            switch node.op.kind {
            case "conv2d":
                if firstConv && options.useZBeta && options.corrected {
                    // The conv may carry merged (renamed) parameters: read them from `params`.
                    guard let channels = node.parameters["weight"].flatMap({ params[$0]?.shape ?? deferred[$0]?.shape })?[1] else {
                        throw PRPKitError.invalidModel("conv '\(node.name)' has no weight")
                    }
                    guard options.inputMean.count == channels, options.inputStd.count == channels else {
                        throw PRPKitError.invalidArgument(
                            "corrected composite: input_mean/input_std have \(options.inputMean.count) channels, the first conv '\(node.name)' takes \(channels)")
                    }
                    byNode[node.name] = .zBeta(channelLowerBounds: zip(options.inputMean, options.inputStd).map { (0 - $0) / $1 },
                                               channelUpperBounds: zip(options.inputMean, options.inputStd).map { (1 - $0) / $1 },
                                               stabilityFactor: options.stabilityFactor, setBiasToZero: options.setBiasToZero)
                } else if options.corrected {
                    // z^B and α1β0 cost deletion AUC and put relevance in the image border
                    // (docs/faithfulness.md). LRP-ε keeps each input's signed contribution;
                    // on the first conv the zero padding, which differs from the image's
                    // edge (a frame), takes its own share; the backbone's lower layers get
                    // γ, the add-on (per-location dense layers) ε, as in the usual LRP recipe.
                    if firstConv {
                        byNode[node.name] = .epsilon(options.stabilityFactor, edgePadding: true)
                    } else if options.gamma > 0 && !node.name.split(separator: ".").contains("add_on") {
                        byNode[node.name] = .gamma(options.gamma)
                    } else {
                        byNode[node.name] = .epsilon(options.stabilityFactor)
                    }
                } else if firstConv && options.useZBeta {
                    byNode[node.name] = .zBeta(lowerBound: options.zBetaLowerBound, upperBound: options.zBetaUpperBound,
                                               stabilityFactor: options.stabilityFactor, setBiasToZero: options.setBiasToZero)
                } else {
                    byNode[node.name] = .prpAlpha1Beta0(stabilityFactor: options.stabilityFactor,
                                                        setBiasToZero: options.setBiasToZero)
                }
                firstConv = false
            // The corrected composite's convs hook their input tensors (Captum's form): a
            // value read by a conv and a residual sum gets one hook, which multiplies the
            // total signal by the value. The sum must then hand on a signal too (LRP-ε in
            // hook form, the same ε·sign0-stabilised rule); CaBRNet's StackedSum hands on
            // relevance, right only beside CaBRNet's own (hook-free) conv rules.
            case "add" where options.corrected: byNode[node.name] = .epsilon(options.stabilityFactor)
            case "add": byNode[node.name] = .stackedSum(stabilityFactor: options.stabilityFactor)
            case "max_pool2d": byNode[node.name] = .gradient()
            // LRP-ε on the sigmoid, R_z = z·σ'(z)·R/σ(z): what the conv below then divides by z
            // keeps the sigmoid's slope and sign (identity would flip the relevance of every
            // channel with z < 0 and weight channels by 1/z).
            case "sigmoid" where options.corrected: byNode[node.name] = .epsilon(options.stabilityFactor)
            case "batch_norm2d" where !mergedBatchNorms.contains(node.name):
                byNode[node.name] = .passThrough()  // see CompositeExtensions.swift
            case "batch_norm2d", "sigmoid": byNode[node.name] = .identity()
            default:
                if let rule = try extensionRule(node, in: graph, options: options) { byNode[node.name] = rule }
            }
        }

        if let d = distance {
            var head = d
            var similarityOp = Op.logSimilarity(epsilon: 1e-4)
            if options.corrected {
                // The model's own distance and similarity (e.g. ProtoTree's exp similarity).
                let own = graph.nodes.first { n in
                    if case .logSimilarity = n.op { return true }
                    if case .expSimilarity = n.op { return true }
                    return false
                }
                if let own { similarityOp = own.op }
            } else {
                head.op = .l2Distance(mode: .cdist)
            }
            let similarity = uniqueName("\(BatchNormMerge.parent(d.name)).lrp_similarity", taken: Set(graph.nodes.map(\.name)))
            nodes.append(head)
            nodes.append(Node(name: similarity, op: similarityOp, inputs: [head.name]))
            byNode[head.name] = options.corrected
                ? .prototypeSimilarityByContribution(stabilityFactor: options.stabilityFactor)
                : .prototypeSimilarity(stabilityFactor: 1e-12)
            byNode[similarity] = .passThrough()
            outputs = [similarity]
        }
        for name in gateBranches(nodes, outputs: outputs, rules: byNode) { byNode[name] = .passThrough() }
        let used = Set(nodes.flatMap { $0.parameters.values })
        params = params.filter { used.contains($0.key) }
        deferred = deferred.filter { used.contains($0.key) }
        let composite = try Graph(inputs: graph.inputs, nodes: nodes, outputs: outputs, parameters: params, deferred: deferred)
        // Reading the BatchNorm parameters brought neighbouring pages of the model file
        // back (the kernel maps pages around a faulting one): the composite reads what it
        // needs again on use.
        MappedFile.releaseResidentPages(of: Array(graph.storedParameters.values))
        MemoryTrace.mark("composite built")
        return Composite(graph: composite, rules: RuleSet(byNode: byNode))
    }

    /// `value` and every node it depends on.
    static func ancestors(of value: String, in graph: Graph) -> Set<String> {
        let byName = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0) })
        var seen = Set<String>(), stack = [value]
        while let v = stack.popLast() {
            guard let node = byName[v], seen.insert(v).inserted else { continue }
            stack.append(contentsOf: node.inputs)
        }
        return seen
    }

    static func uniqueName(_ base: String, taken: Set<String>) -> String {
        var name = base.hasPrefix(".") ? String(base.dropFirst()) : base, i = 1
        while taken.contains(name) { name = "\(base)_\(i)"; i += 1 }
        return name
    }
}
