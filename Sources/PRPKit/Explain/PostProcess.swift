/// Which sign of the relevance a heatmap keeps (CaBRNet's `polarity`).
public enum Polarity: String, Equatable, Sendable, CaseIterable {
    /// max(0, a)
    case positive
    /// |min(0, a)|
    case negative
    /// |a|
    case absolute
}

/// Options of CaBRNet's `post_process` (cabrnet/core/visualization/postprocess.py).
/// The defaults are CaBRNet's: absolute polarity, Gaussian σ 5, no normalisation, no
/// grads×input; `outputSize` nil keeps the relevance's own H×W (CaBRNet resizes to the
/// raw image's size; pass it here).
public struct PostProcessOptions: Equatable, Sendable {
    /// nil leaves the relevance unchanged before the channel mean.
    public var polarity: Polarity?
    /// σ of scipy.ndimage.gaussian_filter (CaBRNet's `gaussian_ksize`); 0 skips it.
    public var gaussianSigma: Float
    /// (h, w) of the OpenCV INTER_CUBIC resize; nil skips it.
    public var outputSize: Pair2?
    /// Min-max normalisation to [0, 1] (all zeros for a constant map).
    public var normalize: Bool
    /// Multiply the relevance by the image first (CaBRNet's `grads_x_input`).
    public var gradsTimesInput: Bool

    public init(polarity: Polarity? = .absolute, gaussianSigma: Float = 5, outputSize: Pair2? = nil,
                normalize: Bool = false, gradsTimesInput: Bool = false) {
        self.polarity = polarity
        self.gaussianSigma = gaussianSigma
        self.outputSize = outputSize
        self.normalize = normalize
        self.gradsTimesInput = gradsTimesInput
    }
}

/// CaBRNet's heatmap post-processing, natively.
public enum PostProcess {
    /// Largest accepted σ (kernel radius 40 000; far past the point where the result is flat).
    public static let maxSigma: Float = 10_000

    /// CaBRNet's `post_process(array, img, img_tensor, ...)` on one relevance map
    /// (C, H, W) → heatmap (H', W'), in CaBRNet's order:
    /// 1. if `gradsTimesInput`: relevance × image (Float), image shaped like the relevance;
    /// 2. polarity (`polarityAndCollapse`) and the mean over channels (np.average, Float);
    /// 3. if σ > 0: `Kernels.gaussianFilter2d` (scipy.ndimage.gaussian_filter);
    /// 4. if `outputSize`: `Kernels.resizeCubic` (cv2.resize INTER_CUBIC) — except that
    ///    an exactly constant map stays exactly constant (cv2 may add ~1 ulp of rounding
    ///    noise, which step 5 would turn into a [0, 1] pattern; here it gives zeros);
    /// 5. if `normalize`: `normalizeMinMax`.
    /// A leading batch dimension of 1 ((1, C, H, W)) is accepted on either tensor, as
    /// CaBRNet takes `img_tensor[0]`.
    /// Throws `invalidArgument` for other ranks, empty extents, an image of another
    /// shape, a missing image with `gradsTimesInput`, a negative, non-finite or > `maxSigma` σ, or a
    /// non-positive output size.
    public static func postProcess(_ relevance: Tensor, image: Tensor? = nil,
                                   options: PostProcessOptions = PostProcessOptions()) throws -> Tensor {
        let relevance = try chw(relevance, "relevance")
        guard options.gaussianSigma.isFinite, options.gaussianSigma >= 0, options.gaussianSigma <= maxSigma else {
            throw PRPKitError.invalidArgument("gaussian sigma must be finite and in 0...\(Int(maxSigma)), got \(options.gaussianSigma)")
        }
        if let size = options.outputSize, size.h <= 0 || size.w <= 0 || size.h > 1 << 20 || size.w > 1 << 20 {
            throw PRPKitError.invalidArgument("output size must be positive (and at most 2^20), got (\(size.h), \(size.w))")
        }
        var a = relevance
        if options.gradsTimesInput {
            guard let image else {
                throw PRPKitError.invalidArgument("gradsTimesInput needs the image tensor")
            }
            let img = try chw(image, "image")
            guard img.shape == relevance.shape else {
                throw PRPKitError.invalidArgument("image shape \(img.shape) does not match relevance shape \(relevance.shape)")
            }
            let product = Tensor(zeros: relevance.shape)
            let (rp, ip, pp) = (relevance.data, img.data, product.data)
            for i in 0..<product.count { pp[i] = rp[i] * ip[i] }
            a = product
        }
        var map = polarityAndCollapse(a, polarity: options.polarity)
        if options.gaussianSigma > 0 {
            map = Kernels.gaussianFilter2d(map, sigma: options.gaussianSigma)
        }
        if let size = options.outputSize {
            if let value = constantValue(map) {
                // Cubic weights sum to 1, so a constant map resizes to the same constant.
                // cv2 adds ~1 ulp of position-dependent rounding noise here, which the
                // min-max normalisation would blow up to [0, 1]; keep it exact instead.
                map = Tensor(zeros: [size.h, size.w])
                map.buffer.update(repeating: value)
            } else {
                map = Kernels.resizeCubic(map, height: size.h, width: size.w)
            }
        }
        if options.normalize {
            map = normalizeMinMax(map)
        }
        return map
    }

    /// CaBRNet's `polarity_and_collapse(array, polarity, dim=0)`: polarity, then the
    /// channel mean as NumPy computes it for float32 (sequential Float sum over the
    /// channel axis, divided by C in Float). (C, H, W) → (H, W).
    public static func polarityAndCollapse(_ x: Tensor, polarity: Polarity?) -> Tensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let plane = h * w
        let out = Tensor(zeros: [h, w])
        let xp = x.data, op = out.data
        let divisor = Float(c)
        Parallel.forRanges(plane, minChunk: 16384) { range in
            for i in range {
                var sum: Float = 0
                for ch in 0..<c {
                    let v = xp[ch * plane + i]
                    var p: Float
                    switch polarity {
                    case .positive?: p = v > 0 ? v : 0   // np.maximum(0, v)
                    case .negative?: p = v < 0 ? -v : 0  // |np.minimum(0, v)|
                    case .absolute?: p = abs(v)
                    case nil: p = v
                    }
                    if v.isNaN { p = v }                 // NumPy's maximum/minimum propagate NaN
                    sum = ch == 0 ? p : sum + p          // reduction over axis 0: sequential
                }
                op[i] = sum / divisor
            }
        }
        return out
    }

    /// CaBRNet's `normalize_min_max`: (a − min) / (max − min) in Float, or all zeros
    /// when max == min.
    public static func normalizeMinMax(_ x: Tensor) -> Tensor {
        let n = x.count
        let out = Tensor(zeros: x.shape)
        guard n > 0 else { return out }
        let xp = x.data, op = out.data
        var lo = xp[0], hi = xp[0]
        for i in 1..<n {
            let v = xp[i]
            if v < lo || v.isNaN && !lo.isNaN { lo = v }
            if v > hi || v.isNaN && !hi.isNaN { hi = v }
        }
        if lo == hi { return out }
        let range = hi - lo
        for i in 0..<n { op[i] = (xp[i] - lo) / range }
        return out
    }

    /// The common value when every element is equal (NaN never is), else nil.
    static func constantValue(_ x: Tensor) -> Float? {
        let p = x.data
        let first = p[0]
        for i in 0..<x.count where p[i] != first { return nil }
        return first
    }

    /// Accepts (C, H, W) or (1, C, H, W); returns the (C, H, W) view.
    static func chw(_ t: Tensor, _ name: String) throws -> Tensor {
        var t = t
        if t.rank == 4 {
            guard t.shape[0] == 1 else {
                throw PRPKitError.invalidArgument("\(name): batch dimension must be 1, got shape \(t.shape)")
            }
            t = try t.reshaped(Array(t.shape.dropFirst()))
        }
        guard t.rank == 3 else {
            throw PRPKitError.invalidArgument("\(name) must be (C, H, W) or (1, C, H, W), got shape \(t.shape)")
        }
        guard t.shape.allSatisfy({ $0 > 0 }) else {
            throw PRPKitError.invalidArgument("\(name) has an empty dimension: \(t.shape)")
        }
        return t
    }
}
