import PRPKit

/// Most layers one prpkit_explainer_attribute_layers call may name.
private let maxLayers = 1 << 16

@_cdecl("prpkit_explainer_attribute_layers")
public func prpkit_explainer_attribute_layers(_ explainer: OpaquePointer?, _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                              _ outputIndex: Int, _ targets: UnsafePointer<Int64>?, _ targetRank: Int,
                                              _ layers: UnsafePointer<UnsafePointer<CChar>?>?, _ nLayers: Int,
                                              _ side: Int32, _ relevance: UnsafeMutableRawPointer?,
                                              _ scores: UnsafeMutablePointer<Float>?,
                                              _ deltas: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded {
        let ex = try ExplainerHandle.from(explainer).explainer
        let tensors = try explainerInputs(ex, inputs, nInputs)
        let n = tensors[0].shape[0]
        let rows = try targetRows(ex, outputIndex, targets, targetRank, examples: n)
        guard nLayers >= 1, nLayers <= maxLayers else {
            throw ABIError.invalidArgument("n_layers \(UInt(bitPattern: nLayers)) out of range 1...\(maxLayers)")
        }
        let layers = try required(layers, "layers")
        let names = try (0..<nLayers).map { i -> String in
            guard let name = layers[i] else { throw ABIError.invalidArgument("layers[\(i)] must not be NULL") }
            return String(cString: name)
        }
        let layerSide: LRP.LayerSide
        switch side {
        case 0: layerSide = .output
        case 1: layerSide = .input
        default: throw ABIError.invalidArgument("side \(side) is not a PRPKIT_LAYER_* value")
        }
        // Which value each layer reports, checked before any shape is written.
        let values = try names.map { try ex.lrp.layerValue($0, side: layerSide) }
        let shapes = try ex.graph.inferShapes(tensors.map(\.shape))
        try Buffers.prepareOutputs(relevance, shapes: values.map { shapes[$0]! },
                                   names: names.map { "relevance of layer '\($0)'" })
        let result = try ex.lrp.attributeLayers(tensors, targets: rows, layers: names, side: layerSide,
                                                outputIndex: outputIndex)
        Buffers.write(result.relevance, to: relevance!)
        if let scores { for e in 0..<n { scores[e] = result.scores[e] } }
        if let deltas {
            for (i, d) in result.convergenceDelta.enumerated() { for e in 0..<n { deltas[i * n + e] = d[e] } }
        }
    }
}
