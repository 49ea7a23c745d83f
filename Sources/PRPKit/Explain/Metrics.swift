/// Relevance metrics for evaluation harnesses, computed natively and in batches.
///
/// Pointing game — CaBRNet 1.2's definitions
/// (cabrnet/core/evaluation/relevance_analysis.py, `pg_energy_relevance` and
/// `pg_mask_relevance`), with the mask already collapsed to (H, W) (CaBRNet sums a
/// segmentation image over its last axis; a pixel is "inside" when that sum is > 0):
/// - energy relevance = Σ_{mask} R / Σ R over the raw map R (no clamping: CaBRNet applies
///   it to its non-negative post-processed attribution), 0 when Σ R == 0;
/// - mask relevance at area fraction a ∈ [0, 1]: sort R ascending, threshold =
///   sorted[⌊n·(1 − a)⌋], selected = {R > threshold} (strictly greater, so ties at the
///   threshold and the threshold pixel itself are left out, as in CaBRNet); the result is
///   |selected ∩ mask| / |selected|, 0 when nothing is selected (also for a = 0, where
///   CaBRNet would index past the end).
/// `positiveOnly` (not CaBRNet) replaces R by max(R, 0) first.
///
/// Deletion / insertion (CaBRNet has none; RISE, Petsiuk et al. 2018): pixels are
/// ranked by relevance, descending, ties by lower row-major index first. For a curve of
/// S steps, step k ∈ 0...S perturbs the first n_k = ⌊k·HW / S⌋ ranked pixels (every
/// channel of a pixel). Deletion: those pixels take the baseline's value, the rest the
/// image's; insertion: those pixels take the image's value, the rest the baseline's.
/// The curve is the model's output at the target for each of the S + 1 images; the AUC
/// is the trapezoidal rule over x_k = n_k / HW ∈ [0, 1].
public enum RelevanceMetrics {
    /// CaBRNet's two pointing-game scores of one relevance map.
    public struct PointingGame: Equatable, Sendable {
        public var energy: Float
        public var maskRelevance: Float
        public init(energy: Float, maskRelevance: Float) { self.energy = energy; self.maskRelevance = maskRelevance }
    }

    /// (N, H, W) view of a (H, W) or (N, H, W) tensor.
    static func maps(_ t: Tensor, _ name: String) throws -> (n: Int, h: Int, w: Int) {
        switch t.rank {
        case 2: return (1, t.shape[0], t.shape[1])
        case 3: return (t.shape[0], t.shape[1], t.shape[2])
        default: throw PRPKitError.invalidArgument("\(name) must be (H, W) or (N, H, W), got shape \(t.shape)")
        }
    }

    /// Pointing-game scores of every map of `relevance` ((H, W) or (N, H, W)) against
    /// `mask` ((H, W), shared by all maps, or (N, H, W)); a mask pixel ≠ 0 is inside.
    /// `areaFraction` is CaBRNet's `area_percentage` as a fraction (default 0.1 = 10 %).
    /// Maps are scored in parallel.
    public static func pointingGame(relevance: Tensor, mask: Tensor, areaFraction: Double = 0.1,
                                    positiveOnly: Bool = false) throws -> [PointingGame] {
        let (n, h, w) = try maps(relevance, "relevance")
        let (mn, mh, mw) = try maps(mask, "mask")
        guard mh == h, mw == w, mn == n || mask.rank == 2 || mn == 1 else {
            throw PRPKitError.invalidArgument("mask shape \(mask.shape) does not match relevance shape \(relevance.shape)")
        }
        guard areaFraction.isFinite, areaFraction >= 0, areaFraction <= 1 else {
            throw PRPKitError.invalidArgument("area fraction must be in [0, 1], got \(areaFraction)")
        }
        let hw = h * w
        let r = relevance.data, m = mask.data
        for i in 0..<relevance.count where !r[i].isFinite {
            throw PRPKitError.invalidArgument("relevance contains NaN or infinite values")
        }
        let shared = mn == 1
        // CaBRNet: int(len * (1 - area_percentage)), in Double.
        let index = Int(Double(hw) * (1 - areaFraction))
        var results = [PointingGame](repeating: PointingGame(energy: 0, maskRelevance: 0), count: n)
        results.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(n) { e in
                let rm = r + e * hw, mm = m + (shared ? 0 : e * hw)
                var values = [Float](repeating: 0, count: hw)
                var total = 0.0, inside = 0.0
                for i in 0..<hw {
                    let v = positiveOnly ? max(rm[i], 0) : rm[i]
                    values[i] = v
                    total += Double(v)
                    if mm[i] != 0 { inside += Double(v) }
                }
                let energy: Float = total == 0 ? 0 : Float(inside / total)
                var maskRel: Float = 0
                if index < hw {
                    var sorted = values
                    sorted.sort()
                    let threshold = sorted[index]
                    var selected = 0, hit = 0
                    for i in 0..<hw where values[i] > threshold {
                        selected += 1
                        if mm[i] != 0 { hit += 1 }
                    }
                    maskRel = selected == 0 ? 0 : Float(Double(hit) / Double(selected))
                }
                out[e] = PointingGame(energy: energy, maskRelevance: maskRel)
            }
        }
        return results
    }

    public enum PerturbationMode: String, Sendable, CaseIterable {
        /// Most relevant pixels first replaced by the baseline.
        case deletion
        /// Most relevant pixels first copied from the image onto the baseline.
        case insertion
    }

    public struct PerturbationOptions: Sendable {
        public var mode: PerturbationMode
        /// S ≥ 1: the curve has S + 1 points.
        public var steps: Int
        /// Which model output the target indexes.
        public var outputIndex: Int
        /// Perturbed images per forward pass (bounds memory); 0 = all in one pass.
        public var batchSize: Int
        /// Softmax over dimension 1 of the output before reading the target (RISE's
        /// class probability); otherwise the raw output.
        public var softmax: Bool
        /// Baseline (C, H, W) shared by all images, or (N, C, H, W); nil: a Gaussian blur
        /// of each image (per channel, scipy.ndimage.gaussian_filter, σ = `blurSigma`)
        /// when `blurSigma` > 0, else zeros.
        public var baseline: Tensor?
        public var blurSigma: Float

        public init(mode: PerturbationMode, steps: Int = 32, outputIndex: Int = 0, batchSize: Int = 64,
                    softmax: Bool = false, baseline: Tensor? = nil, blurSigma: Float = 0) {
            self.mode = mode; self.steps = steps; self.outputIndex = outputIndex; self.batchSize = batchSize
            self.softmax = softmax; self.baseline = baseline; self.blurSigma = blurSigma
        }
    }

    public struct PerturbationCurve: Equatable, Sendable {
        /// x_k = n_k / HW, k = 0...S.
        public var fractions: [Float]
        /// The target output after each step.
        public var scores: [Float]
        /// Trapezoidal area under scores over fractions.
        public var auc: Float
    }

    /// n_k = ⌊k·HW / S⌋ for k in 0...S.
    public static func stepCounts(pixels: Int, steps: Int) -> [Int] {
        (0...steps).map { $0 * pixels / steps }
    }

    /// Pixel indices sorted by relevance, descending; ties by lower index first.
    static func ranking(_ r: UnsafeMutablePointer<Float>, _ count: Int) -> [Int32] {
        var order = (0..<Int32(count)).map { $0 }
        order.sort { a, b in
            let ra = r[Int(a)], rb = r[Int(b)]
            return ra != rb ? ra > rb : a < b
        }
        return order
    }

    /// Trapezoidal rule, in Double.
    public static func trapezoid(_ y: [Float], _ x: [Float]) -> Float {
        var area = 0.0
        for k in 1..<max(y.count, 1) {
            area += (Double(x[k]) - Double(x[k - 1])) * (Double(y[k]) + Double(y[k - 1])) / 2
        }
        return Float(area)
    }

    /// Deletion or insertion curves of N images at once. `model` takes one input
    /// (N, C, H, W); `images` is (N, C, H, W) or (C, H, W); `relevance` (N, H, W) or
    /// (H, W); `targets[e]` indexes every dimension after the batch of output
    /// `outputIndex` ({class} or {p, h, w}). All N·(S + 1) perturbed images are built in
    /// parallel and run through batched forward passes of `batchSize` images.
    public static func perturbationCurves(model: Graph, images: Tensor, relevance: Tensor, targets: [[Int]],
                                          options: PerturbationOptions) throws -> [PerturbationCurve] {
        guard model.inputs.count == 1 else {
            throw PRPKitError.invalidArgument("deletion/insertion needs a model with one input, it has \(model.inputs.count)")
        }
        let images = images.rank == 3 ? try images.reshaped([1] + images.shape) : images
        guard images.rank == 4 else {
            throw PRPKitError.invalidArgument("image must be (C, H, W) or (N, C, H, W), got shape \(images.shape)")
        }
        let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let (rn, rh, rw) = try maps(relevance, "relevance")
        guard rn == n, rh == h, rw == w else {
            throw PRPKitError.invalidArgument("relevance shape \(relevance.shape) does not match the images (\(n), \(h), \(w))")
        }
        guard options.steps >= 1, options.steps <= 1 << 20 else {
            throw PRPKitError.invalidArgument("steps must be in 1...\(1 << 20), got \(options.steps)")
        }
        guard options.batchSize >= 0 else { throw PRPKitError.invalidArgument("batch size must be >= 0") }
        guard options.blurSigma.isFinite, options.blurSigma >= 0, options.blurSigma <= PostProcess.maxSigma else {
            throw PRPKitError.invalidArgument("blur sigma must be finite and in 0...\(Int(PostProcess.maxSigma)), got \(options.blurSigma)")
        }
        guard options.outputIndex >= 0, options.outputIndex < model.outputs.count else {
            throw PRPKitError.invalidArgument("output index \(options.outputIndex) out of range (model has \(model.outputs.count) outputs)")
        }
        guard targets.count == n else {
            throw PRPKitError.invalidArgument("\(targets.count) targets for \(n) images")
        }
        let outShape = try model.inferShapes([[1, c, h, w]])[model.outputs[options.outputIndex]]!
        let itemShape = Array(outShape.dropFirst())
        for (e, t) in targets.enumerated() {
            guard t.count == itemShape.count, zip(t, itemShape).allSatisfy({ $0 >= 0 && $0 < $1 }) else {
                throw PRPKitError.invalidArgument("target \(t) of image \(e) does not index an output item of shape \(itemShape)")
            }
        }
        if options.softmax && outShape.count < 2 {
            throw PRPKitError.invalidArgument("softmax needs an output of rank >= 2, it is \(outShape)")
        }
        for i in 0..<relevance.count where !relevance.data[i].isFinite {
            throw PRPKitError.invalidArgument("relevance contains NaN or infinite values")
        }
        let plane = h * w, chw = c * plane
        // Baseline per image.
        let base: Tensor
        if let b = options.baseline {
            guard b.shape == [c, h, w] || b.shape == [n, c, h, w] || (b.rank == 4 && b.shape == [1, c, h, w]) else {
                throw PRPKitError.invalidArgument("baseline shape \(b.shape) must be (C, H, W) = \([c, h, w]) or (N, C, H, W)")
            }
            base = b
        } else if options.blurSigma > 0 {
            let blurred = Tensor(uninitialized: [n, c, h, w])
            Parallel.forEach(n * c) { i in
                let src = Tensor(borrowing: images.data + i * plane, shape: [h, w])
                let out = Kernels.gaussianFilter2d(src, sigma: options.blurSigma)
                (blurred.data + i * plane).update(from: out.data, count: plane)
            }
            base = blurred
        } else {
            base = Tensor(zeros: [n, c, h, w])
        }
        let baseShared = base.count == chw
        let counts = stepCounts(pixels: plane, steps: options.steps)
        let fractions = counts.map { Float(Double($0) / Double(plane)) }
        let orders: [[Int32]] = {
            var o = [[Int32]](repeating: [], count: n)
            o.withUnsafeMutableBufferPointer { buf in
                Parallel.forEach(n) { e in buf[e] = ranking(relevance.data + e * plane, plane) }
            }
            return o
        }()
        let perImage = options.steps + 1
        let total = n * perImage
        let chunk = options.batchSize == 0 ? total : options.batchSize
        var scores = [Float](repeating: 0, count: total)
        let itemCount = Tensor.elementCount(itemShape)
        let classes = outShape.count >= 2 ? outShape[1] : 1
        let inner = itemCount / max(classes, 1)
        for start in stride(from: 0, to: total, by: chunk) {
            let count = min(chunk, total - start)
            let batch = Tensor(uninitialized: [count, c, h, w])
            Parallel.forEach(count) { j in
                let g = start + j, e = g / perImage, k = g % perImage
                let dst = batch.data + j * chw
                let img = images.data + e * chw
                let bas = base.data + (baseShared ? 0 : e * chw)
                let (first, rest) = options.mode == .deletion ? (bas, img) : (img, bas)
                dst.update(from: rest, count: chw)
                let order = orders[e]
                for r in 0..<counts[k] {
                    let p = Int(order[r])
                    for ch in 0..<c { dst[ch * plane + p] = first[ch * plane + p] }
                }
            }
            let out = try model.forward([batch]).outputs[options.outputIndex]
            for j in 0..<count {
                let e = (start + j) / perImage
                var offset = 0
                for (d, t) in targets[e].enumerated() { offset = offset * itemShape[d] + t }
                let row = out.data + j * itemCount
                if options.softmax {
                    // softmax over dimension 1 at the target's trailing position
                    let pos = offset % inner, cls = offset / inner
                    var mx = -Float.infinity
                    for q in 0..<classes { mx = max(mx, row[q * inner + pos]) }
                    var sum = 0.0
                    for q in 0..<classes { sum += Double(expf(row[q * inner + pos] - mx)) }
                    scores[start + j] = Float(Double(expf(row[cls * inner + pos] - mx)) / sum)
                } else {
                    scores[start + j] = row[offset]
                }
            }
        }
        return (0..<n).map { e in
            let s = Array(scores[e * perImage..<(e + 1) * perImage])
            return PerturbationCurve(fractions: fractions, scores: s, auc: trapezoid(s, fractions))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
