import CPRPKit
import PRPKit

private func oneTensor(_ pointer: UnsafeRawPointer?, _ name: String) throws -> Tensor {
    try Buffers.tensors(try required(pointer, name), count: 1, ranks: nil, names: [name])[0]
}

@_cdecl("prpkit_pointing_game")
public func prpkit_pointing_game(_ relevance: UnsafeRawPointer?, _ mask: UnsafeRawPointer?, _ areaFraction: Double,
                                 _ flags: Int32, _ energy: UnsafeMutablePointer<Float>?,
                                 _ maskRelevance: UnsafeMutablePointer<Float>?, _ capacity: Int) -> Int32 {
    guarded {
        guard flags & ~Int32(PRPKIT_POINTING_POSITIVE_ONLY) == 0 else {
            throw ABIError.invalidArgument("flags = \(flags); only PRPKIT_POINTING_POSITIVE_ONLY (1) is defined")
        }
        let rel = try oneTensor(relevance, "relevance")
        let m = try oneTensor(mask, "mask")
        let n = rel.rank == 3 ? rel.shape[0] : 1
        guard UInt(bitPattern: capacity) >= UInt(n) else {
            throw ABIError.bufferTooSmall("\(n) maps need \(n) floats per result array, capacity is \(UInt(bitPattern: capacity))")
        }
        let results = try RelevanceMetrics.pointingGame(relevance: rel, mask: m, areaFraction: areaFraction,
                                                        positiveOnly: flags & Int32(PRPKIT_POINTING_POSITIVE_ONLY) != 0)
        for (i, r) in results.enumerated() {
            energy?[i] = r.energy
            maskRelevance?[i] = r.maskRelevance
        }
    }
}

@_cdecl("prpkit_perturbation_curves")
public func prpkit_perturbation_curves(_ model: OpaquePointer?, _ images: UnsafeRawPointer?,
                                       _ relevance: UnsafeRawPointer?, _ targets: UnsafePointer<Int64>?,
                                       _ targetRank: Int, _ baseline: UnsafeRawPointer?, _ options: UnsafeRawPointer?,
                                       _ scores: UnsafeMutablePointer<Float>?, _ scoresCapacity: Int,
                                       _ auc: UnsafeMutablePointer<Float>?, _ fractions: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        let options = try required(options, "options")
        let caller = try CallerStruct<prpkit_perturbation_options>(options, initializer: "prpkit_perturbation_default_options")
        try caller.require(\.blur_sigma, initializer: "prpkit_perturbation_default_options")
        var opts: RelevanceMetrics.PerturbationOptions
        switch Int(caller[\.mode]!) {
        case PRPKIT_PERTURB_DELETION: opts = .init(mode: .deletion)
        case PRPKIT_PERTURB_INSERTION: opts = .init(mode: .insertion)
        case let other: throw ABIError.invalidArgument("options.mode \(other) is not a PRPKIT_PERTURB_* value")
        }
        opts.softmax = caller[\.softmax]! != 0
        opts.steps = Int(clamping: caller[\.steps]!)
        opts.outputIndex = Int(clamping: caller[\.output_index]!)
        opts.batchSize = Int(clamping: caller[\.batch_size]!)
        opts.blurSigma = caller[\.blur_sigma]!
        if let baseline { opts.baseline = try oneTensor(baseline, "baseline") }
        let x = try oneTensor(images, "images")
        let rel = try oneTensor(relevance, "relevance")
        let n = x.rank == 4 ? x.shape[0] : 1
        guard targetRank >= 0, targetRank <= maxRank else {
            throw ABIError.invalidArgument("target_rank \(UInt(bitPattern: targetRank)) out of range")
        }
        let t = targetRank == 0 ? nil : try required(targets, "targets")
        let rows = (0..<n).map { e in (0..<targetRank).map { Int(clamping: t![e * targetRank + $0]) } }
        guard opts.steps >= 1, opts.steps < ShapeMath.maxElements else {
            throw ABIError.invalidArgument("options.steps must be in 1...\(ShapeMath.maxElements - 1), got \(opts.steps)")
        }
        let needed = try ShapeMath.count([n, opts.steps + 1], "scores N*(steps+1)")
        guard UInt(bitPattern: scoresCapacity) >= UInt(needed) else {
            throw ABIError.bufferTooSmall("scores need N*(steps+1) = \(needed) floats, capacity is \(UInt(bitPattern: scoresCapacity))")
        }
        let scores = try required(scores, "scores")
        let curves = try RelevanceMetrics.perturbationCurves(model: graph, images: x, relevance: rel, targets: rows,
                                                             options: opts)
        for (e, curve) in curves.enumerated() {
            for (k, s) in curve.scores.enumerated() { scores[e * (opts.steps + 1) + k] = s }
            auc?[e] = curve.auc
        }
        if let fractions, let first = curves.first {
            for (k, f) in first.fractions.enumerated() { fractions[k] = f }
        }
    }
}
