#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// cv2.resize(x, dsize=(width, height), interpolation=cv2.INTER_CUBIC) for a float32
    /// single-channel array (H, W), following OpenCV's generic path
    /// (modules/imgproc/src/resize.cpp, `cv::hal::resize` + `resizeGeneric_`):
    /// - same size: a plain copy (cv::resize copies when dsize == ssize);
    /// - scale = 1 / (dst / src) in Double; source coordinate
    ///   f = Float((d + 0.5)·scale − 0.5), s = floor(f), t = f − s (Float);
    /// - cubic weights in Float with A = −0.75 (`interpolateCubic`), the 4th weight
    ///   being 1 − w0 − w1 − w2; taps s−1 … s+2;
    /// - borders: taps outside the image are clamped to the first/last pixel
    ///   (BORDER_REPLICATE) in both directions;
    /// - horizontal pass first (Float, taps summed left to right), then the vertical
    ///   pass b0·R0 + b1·R1 + b2·R2 + b3·R3 (Float).
    /// Agreement with cv2 (opencv-python 5.0.0, IPP on, the default): ≈1e-6 of
    /// max|output| — cv2's default build routes float INTER_CUBIC through Intel IPP,
    /// whose arithmetic differs slightly; with `cv2.ipp.setUseIPP(False)` the agreement
    /// is ≲1e-7 (≤ 1–2 ulp). Callers check rank 2 and positive sizes.
    public static func resizeCubic(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let (h, w) = (x.shape[0], x.shape[1])
        if h == height && w == width { return x.copy() }
        let (xofs, xw) = cubicTable(source: w, destination: width)
        let (yofs, yw) = cubicTable(source: h, destination: height)
        // Horizontal pass over every source row.
        let rows = Tensor(zeros: [h, width])
        let xp = x.data, rp = rows.data
        Parallel.forRanges(h, minChunk: max(1, 4096 / max(width, 1))) { range in
            for row in range {
                let src = xp + row * w, dst = rp + row * width
                for d in 0..<width {
                    let s = xofs[d]
                    var v: Float = 0
                    for k in 0..<4 {
                        let i = min(max(s - 1 + k, 0), w - 1)
                        v += src[i] * xw[4 * d + k]
                    }
                    dst[d] = v
                }
            }
        }
        // Vertical pass.
        let out = Tensor(zeros: [height, width])
        let op = out.data
        Parallel.forRanges(height, minChunk: max(1, 4096 / max(width, 1))) { range in
            for d in range {
                let s = yofs[d]
                let r0 = rp + min(max(s - 1, 0), h - 1) * width
                let r1 = rp + min(max(s, 0), h - 1) * width
                let r2 = rp + min(max(s + 1, 0), h - 1) * width
                let r3 = rp + min(max(s + 2, 0), h - 1) * width
                let b0 = yw[4 * d], b1 = yw[4 * d + 1], b2 = yw[4 * d + 2], b3 = yw[4 * d + 3]
                let dst = op + d * width
                for c in 0..<width {
                    dst[c] = r0[c] * b0 + r1[c] * b1 + r2[c] * b2 + r3[c] * b3
                }
            }
        }
        return out
    }

    /// OpenCV's per-destination source offsets and cubic weights (4 per destination).
    static package func cubicTable(source: Int, destination: Int) -> (offsets: [Int], weights: [Float]) {
        let inverseScale = Double(destination) / Double(source)
        let scale = 1.0 / inverseScale
        var offsets = [Int](repeating: 0, count: destination)
        var weights = [Float](repeating: 0, count: 4 * destination)
        for d in 0..<destination {
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            let s = Int(f.rounded(.down))
            f -= Float(s)
            offsets[d] = s
            let c = cubicCoefficients(f)
            weights[4 * d] = c.0; weights[4 * d + 1] = c.1
            weights[4 * d + 2] = c.2; weights[4 * d + 3] = c.3
        }
        return (offsets, weights)
    }

    /// OpenCV's `interpolateCubic` (A = −0.75), evaluated in Float in the same order.
    @inline(__always)
    static package func cubicCoefficients(_ x: Float) -> (Float, Float, Float, Float) {
        let a: Float = -0.75
        let x1 = x + 1, y = 1 - x
        let c0 = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
        let c1 = ((a + 2) * x - (a + 3)) * x * x + 1
        let c2 = ((a + 2) * y - (a + 3)) * y * y + 1
        let c3 = 1 - c0 - c1 - c2
        return (c0, c1, c2, c3)
    }
}
