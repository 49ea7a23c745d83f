import PRPKit

/// prpkit_postprocess_options { size_t struct_size; int polarity; float gaussian_sigma;
/// int64_t out_height, out_width; int normalize; int grads_x_input; } (40 bytes).
enum PostProcessLayout {
    static let polarity = 8, gaussianSigma = 12, outHeight = 16, outWidth = 24
    static let normalize = 32, gradsTimesInput = 36, size = 40
}

/// Reads prpkit_postprocess_options (NULL → CaBRNet's defaults). Fields past the
/// caller's struct_size keep their defaults.
func postProcessOptions(_ pointer: UnsafeRawPointer?) throws -> PostProcessOptions {
    var options = PostProcessOptions()
    guard let pointer else { return options }
    let size = Int(clamping: pointer.load(as: UInt.self))
    guard size >= MemoryLayout<UInt>.size else {
        throw ABIError.invalidArgument("options.struct_size is \(size); initialize options with prpkit_postprocess_default_options()")
    }
    func has(_ offset: Int, _ bytes: Int) -> Bool { size >= offset + bytes }
    if has(PostProcessLayout.polarity, 4) {
        switch pointer.load(fromByteOffset: PostProcessLayout.polarity, as: Int32.self) {
        case 0: options.polarity = nil
        case 1: options.polarity = .positive
        case 2: options.polarity = .negative
        case 3: options.polarity = .absolute
        case let p: throw ABIError.invalidArgument("options.polarity = \(p); use a PRPKIT_POLARITY_* value (0...3)")
        }
    }
    if has(PostProcessLayout.gaussianSigma, 4) {
        let sigma = pointer.load(fromByteOffset: PostProcessLayout.gaussianSigma, as: Float.self)
        guard sigma.isFinite, sigma >= 0 else {
            throw ABIError.invalidArgument("options.gaussian_sigma = \(sigma); it must be finite and >= 0 (0 = no smoothing)")
        }
        options.gaussianSigma = sigma
    }
    if has(PostProcessLayout.outWidth, 8) {
        let h = pointer.load(fromByteOffset: PostProcessLayout.outHeight, as: Int64.self)
        let w = pointer.load(fromByteOffset: PostProcessLayout.outWidth, as: Int64.self)
        if h == 0 && w == 0 {
            options.outputSize = nil
        } else {
            guard h > 0, w > 0, h <= 1 << 20, w <= 1 << 20 else {
                throw ABIError.invalidArgument("options.out_height, out_width = \(h), \(w); both must be in 1...2^20, or both 0 (no resize)")
            }
            options.outputSize = Pair2(Int(h), Int(w))
        }
    }
    if has(PostProcessLayout.normalize, 4) {
        options.normalize = pointer.load(fromByteOffset: PostProcessLayout.normalize, as: Int32.self) != 0
    }
    if has(PostProcessLayout.gradsTimesInput, 4) {
        options.gradsTimesInput = pointer.load(fromByteOffset: PostProcessLayout.gradsTimesInput, as: Int32.self) != 0
    }
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
