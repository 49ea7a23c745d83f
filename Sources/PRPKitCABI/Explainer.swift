#if canImport(Glibc)
import Glibc
#endif
import CPRPKit
import PRPKit

/// What a `prpkit_explainer*` points to.
final class ExplainerHandle {
    let explainer: Explainer
    init(_ explainer: Explainer) { self.explainer = explainer }

    static func from(_ pointer: OpaquePointer?) throws -> ExplainerHandle {
        let pointer = try required(pointer, "explainer")
        return Unmanaged<ExplainerHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

@_cdecl("prpkit_explainer_create")
public func prpkit_explainer_create(_ model: OpaquePointer?, _ config: UnsafePointer<CChar>?,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return guarded {
        let out = try required(out, "out")
        let graph = try ModelHandle.from(model).graph
        let parsed = try config.map { try ExplainerConfig(json: String(cString: $0)) } ?? ExplainerConfig()
        let handle = ExplainerHandle(try Explainer(model: graph, config: parsed))
        out.pointee = OpaquePointer(Unmanaged.passRetained(handle).toOpaque())
    }
}

@_cdecl("prpkit_explainer_free")
public func prpkit_explainer_free(_ explainer: OpaquePointer?) {
    guard let explainer else { return }
    Unmanaged<ExplainerHandle>.fromOpaque(UnsafeRawPointer(explainer)).release()
}

@_cdecl("prpkit_explainer_model")
public func prpkit_explainer_model(_ explainer: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let graph: Graph
    do { graph = try ExplainerHandle.from(explainer).explainer.graph } catch {
        out?.pointee = nil
        return guarded { throw error }
    }
    return loadModel(out) { graph }
}

@_cdecl("prpkit_explainer_forward_counts")
public func prpkit_explainer_forward_counts(_ explainer: OpaquePointer?, _ forwards: UnsafeMutablePointer<UInt64>?,
                                            _ reuses: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guarded {
        let counts = try ExplainerHandle.from(explainer).explainer.propagator.stateCache.counts
        forwards?.pointee = UInt64(counts.forwards)
        reuses?.pointee = UInt64(counts.reuses)
    }
}

@_cdecl("prpkit_explainer_rules_json")
public func prpkit_explainer_rules_json(_ explainer: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                        _ capacity: Int, _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let text = JSONWriter.write(try ExplainerHandle.from(explainer).explainer.rulesJSON)
        try Buffers.writeText(text, "rules JSON", to: buffer, capacity: capacity, length: length)
    }
}

/// Reads the model inputs of an explainer call.
func explainerInputs(_ explainer: Explainer, _ inputs: UnsafeRawPointer?, _ n: Int) throws -> [Tensor] {
    let graph = explainer.graph
    guard n == graph.inputs.count else {
        throw ABIError.invalidArgument("model takes \(graph.inputs.count) input(s), n_inputs is \(UInt(bitPattern: n))")
    }
    let tensors = try Buffers.tensors(inputs, count: n, ranks: graph.inputs.map(\.shape.count),
                                      names: graph.inputs.enumerated().map { "input \($0.offset) ('\($0.element.name)')" })
    _ = try graph.inferShapes(tensors.map(\.shape))
    return tensors
}

private func relevanceSlots(_ explainer: Explainer, _ outputs: UnsafeMutableRawPointer?, _ n: Int,
                            shapes: [[Int]]) throws {
    guard n == explainer.graph.inputs.count else {
        throw ABIError.invalidArgument("n_relevance must equal the number of model inputs (\(explainer.graph.inputs.count))")
    }
    try Buffers.prepareOutputs(outputs, shapes: shapes,
                               names: explainer.graph.inputs.map { "relevance of input '\($0.name)'" })
}

@_cdecl("prpkit_explainer_attribute")
public func prpkit_explainer_attribute(_ explainer: OpaquePointer?, _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                       _ outputIndex: Int, _ targets: UnsafePointer<Int64>?, _ targetRank: Int,
                                       _ relevance: UnsafeMutableRawPointer?, _ nRelevance: Int,
                                       _ scores: UnsafeMutablePointer<Float>?, _ deltas: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded {
        let ex = try ExplainerHandle.from(explainer).explainer
        let tensors = try explainerInputs(ex, inputs, nInputs)
        let n = tensors[0].shape[0]
        let rows = try targetRows(ex, outputIndex, targets, targetRank, examples: n)
        try relevanceSlots(ex, relevance, nRelevance, shapes: tensors.map(\.shape))
        let result = try ex.lrp.attribute(tensors, targets: rows, outputIndex: outputIndex)
        Buffers.write(result.relevance, to: relevance!)
        if let scores { for e in 0..<n { scores[e] = result.scores[e] } }
        if let deltas { for e in 0..<n { deltas[e] = result.convergenceDelta[e] } }
    }
}

/// The `targets` rows of an attribute call (n rows of `targetRank` indices into output
/// `outputIndex`), after checking the output index and the rank.
func targetRows(_ ex: Explainer, _ outputIndex: Int, _ targets: UnsafePointer<Int64>?, _ targetRank: Int,
                examples n: Int) throws -> [[Int]] {
    guard outputIndex >= 0, outputIndex < ex.graph.outputs.count else {
        throw ABIError.invalidArgument("output_index \(UInt(bitPattern: outputIndex)) out of range (model has \(ex.graph.outputs.count) outputs)")
    }
    guard targetRank >= 0, targetRank <= maxRank else {
        throw ABIError.invalidArgument("target_rank \(UInt(bitPattern: targetRank)) out of range")
    }
    let targets = try required(targets, "targets")
    return (0..<n).map { e in (0..<targetRank).map { Int(clamping: targets[e * targetRank + $0]) } }
}

@_cdecl("prpkit_explainer_propagate")
public func prpkit_explainer_propagate(_ explainer: OpaquePointer?, _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                       _ outputIndex: Int, _ start: UnsafeRawPointer?,
                                       _ relevance: UnsafeMutableRawPointer?, _ nRelevance: Int) -> Int32 {
    guarded {
        let ex = try ExplainerHandle.from(explainer).explainer
        let tensors = try explainerInputs(ex, inputs, nInputs)
        let startTensor = try Buffers.tensors(start, count: 1, ranks: nil, names: ["start"])[0]
        let rows = startTensor.shape[0]
        let shapes = tensors.map { [rows] + $0.shape.dropFirst() }
        for (i, shape) in shapes.enumerated() { _ = try ShapeMath.count(shape, "relevance of input \(i)") }
        try relevanceSlots(ex, relevance, nRelevance, shapes: shapes)
        let result = try ex.lrp.propagate(tensors, start: startTensor, outputIndex: outputIndex)
        Buffers.write(result, to: relevance!)
    }
}

@_cdecl("prpkit_explainer_prp")
public func prpkit_explainer_prp(_ explainer: OpaquePointer?, _ image: UnsafeRawPointer?,
                                 _ prototypes: UnsafePointer<Int64>?, _ nPrototypes: Int,
                                 _ options: UnsafeRawPointer?, _ relevance: UnsafeMutableRawPointer?,
                                 _ similarity: UnsafeMutableRawPointer?) -> Int32 {
    guarded {
        let ex = try ExplainerHandle.from(explainer).explainer
        let tensors = try explainerInputs(ex, image, 1)
        guard nPrototypes > 0 else { throw ABIError.invalidArgument("n_prototypes must be positive") }
        // The relevance (N·K, C, H, W) must be representable before K indices are read.
        let x = tensors[0]
        let rows = try ShapeMath.count([x.shape[0], nPrototypes], "relevance rows N*K")
        let relevanceShape = [rows] + x.shape.dropFirst()
        _ = try ShapeMath.count(relevanceShape, "relevance")
        let protos = try required(prototypes, "prototypes")
        let ids = (0..<nPrototypes).map { Int(clamping: protos[$0]) }
        var location = PRPLocation.max
        if let options {
            let caller = try CallerStruct<prpkit_prp_options>(options, initializer: "prpkit_prp_default_options")
            try caller.require(\.threshold, initializer: "prpkit_prp_default_options")
            switch Int(caller[\.location]!) {
            case PRPKIT_LOCATION_MAX: location = .max
            case PRPKIT_LOCATION_AT: location = .at(h: Int(clamping: caller[\.h]!), w: Int(clamping: caller[\.w]!))
            case PRPKIT_LOCATION_THRESHOLD: location = .threshold(caller[\.threshold]!)
            case let other: throw ABIError.invalidArgument("options.location \(other) is not a PRPKIT_LOCATION_* value")
            }
        }
        let shapes = try ex.graph.inferShapes([x.shape])
        let simShape = shapes[ex.graph.outputs[0]]!
        guard simShape.count == 4 else {
            throw ABIError.invalidArgument("PRP needs a model whose first output is a similarity map (N, P, H, W); it is \(simShape)")
        }
        // Both shapes are written before any BUFFER_TOO_SMALL is reported.
        var shortfalls: [String] = []
        for (slot, shape, name) in [(relevance, relevanceShape, "relevance"),
                                    (similarity, simShape, "similarity")] where name == "relevance" || slot != nil {
            do { try Buffers.prepareOutputs(slot, shapes: [shape], names: [name]) } catch let e as ABIError where e.code == Status.bufferTooSmall {
                shortfalls.append(e.message)
            }
        }
        if !shortfalls.isEmpty { throw ABIError.bufferTooSmall(shortfalls.joined(separator: "; ")) }
        let maps = try ex.prpExplainer.explain(x, prototypes: ids, location: location)
        Buffers.write([maps.relevance], to: relevance!)
        if let similarity { Buffers.write([maps.similarity], to: similarity) }
    }
}
