import CPRPKit
import PRPKit

/// Reads prpkit_postprocess_options (NULL → CaBRNet's defaults). Fields past the
/// caller's struct_size keep their defaults.
func postProcessOptions(_ pointer: UnsafeRawPointer?) throws -> PostProcessOptions {
    var options = PostProcessOptions()
    guard let pointer else { return options }
    let caller = try CallerStruct<prpkit_postprocess_options>(pointer, initializer: "prpkit_postprocess_default_options")
    if let polarity = caller[\.polarity] {
        switch Int(polarity) {
        case PRPKIT_POLARITY_NONE: options.polarity = nil
        case PRPKIT_POLARITY_POSITIVE: options.polarity = .positive
        case PRPKIT_POLARITY_NEGATIVE: options.polarity = .negative
        case PRPKIT_POLARITY_ABSOLUTE: options.polarity = .absolute
        case let p: throw ABIError.invalidArgument("options.polarity = \(p); use a PRPKIT_POLARITY_* value (0...3)")
        }
    }
    if let sigma = caller[\.gaussian_sigma] {
        guard sigma.isFinite, sigma >= 0 else {
            throw ABIError.invalidArgument("options.gaussian_sigma = \(sigma); it must be finite and >= 0 (0 = no smoothing)")
        }
        options.gaussianSigma = sigma
    }
    if let h = caller[\.out_height], let w = caller[\.out_width] {
        if h == 0 && w == 0 {
            options.outputSize = nil
        } else {
            guard h > 0, w > 0, h <= 1 << 20, w <= 1 << 20 else {
                throw ABIError.invalidArgument("options.out_height, out_width = \(h), \(w); both must be in 1...2^20, or both 0 (no resize)")
            }
            options.outputSize = Pair2(Int(h), Int(w))
        }
    }
    if let normalize = caller[\.normalize] { options.normalize = normalize != 0 }
    if let gradsTimesInput = caller[\.grads_x_input] { options.gradsTimesInput = gradsTimesInput != 0 }
    return options
}

/// (C, H, W) of a (C, H, W) or (1, C, H, W) tensor.
private func chwShape(_ t: Tensor, _ name: String) throws -> [Int] {
    if t.rank == 3 { return t.shape }
    if t.rank == 4 && t.shape[0] == 1 { return Array(t.shape.dropFirst()) }
    throw ABIError.invalidArgument("\(name) must be (C, H, W) or (1, C, H, W), got shape \(t.shape)")
}

@_cdecl("prpkit_postprocess")
public func prpkit_postprocess(_ relevance: UnsafeRawPointer?, _ image: UnsafeRawPointer?,
                               _ options: UnsafeRawPointer?, _ heatmap: UnsafeMutableRawPointer?) -> Int32 {
    guarded {
        let options = try postProcessOptions(options)
        let rel = try Buffers.tensors(try required(relevance, "relevance"), count: 1, ranks: nil, names: ["relevance"])[0]
        let shape = try chwShape(rel, "relevance")
        var img: Tensor? = nil
        if options.gradsTimesInput {
            img = try Buffers.tensors(try required(image, "image (grads_x_input is set)"), count: 1, ranks: nil,
                                      names: ["image"])[0]
            let imageShape = try chwShape(img!, "image")
            guard imageShape == shape else {
                throw ABIError.invalidArgument("image shape \(img!.shape) does not match relevance shape \(rel.shape)")
            }
        }
        let out = options.outputSize.map { [$0.h, $0.w] } ?? [shape[1], shape[2]]
        try Buffers.prepareOutputs(heatmap, shapes: [out], names: ["heatmap"])
        Buffers.write([try PostProcess.postProcess(rel, image: img, options: options)], to: heatmap!)
    }
}
