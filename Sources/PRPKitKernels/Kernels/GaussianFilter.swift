#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// scipy.ndimage.gaussian_filter(x, sigma=sigma) for a 2-D float32 array (H, W),
    /// reproducing scipy's arithmetic step by step:
    /// - kernel: radius = Int(4·sigma + 0.5) (truncate 4.0), weights exp(−0.5/σ²·i²)
    ///   divided by their sum (NumPy's pairwise summation), all in Double;
    /// - separable, axis 0 then axis 1, the intermediate rounded to Float as scipy stores
    ///   it in the float32 output array;
    /// - each output accumulated in Double in scipy's order for symmetric kernels:
    ///   x[l]·w[0], then (x[l−r] + x[l+r])·w[r], …, (x[l−1] + x[l+1])·w[1];
    /// - mode 'reflect' (d c b a | a b c d | d c b a), repeated when the radius exceeds
    ///   the extent (period 2n), so a 1-pixel axis stays constant.
    /// σ ≤ 1e-15 (scipy's cut-off) returns a copy. The only difference from scipy is
    /// `exp` (glibc's here, NumPy's SIMD exp there): a weight may differ by 1 ulp of a
    /// Double, far below Float resolution.
    /// Callers check rank 2 and a finite σ ≥ 0 (PostProcess does).
    public static func gaussianFilter2d(_ x: Tensor, sigma: Float) -> Tensor {
        let (h, w) = (x.shape[0], x.shape[1])
        let s = Double(sigma)
        guard s > 1e-15 else { return x.copy() }
        let weights = gaussianKernel1d(sigma: s)
        let r = weights.count / 2
        // Axis 0: each output row l combines whole input rows, columns vectorise.
        let mid = Tensor(zeros: [h, w])
        let rowIndex = (-r..<(h + r)).map { reflectIndex($0, h) }
        let xp = x.data, mp = mid.data
        weights.withUnsafeBufferPointer { wb in
            rowIndex.withUnsafeBufferPointer { rows in
                let wc = wb.baseAddress! + r   // wc[j] for j in −r...r
                let ri = rows.baseAddress! + r // ri[i] for i in −r..<h+r
                Parallel.forRanges(h, minChunk: max(1, 4096 / max(w, 1))) { range in
                    let acc = UnsafeMutablePointer<Double>.allocate(capacity: w)
                    defer { acc.deallocate() }
                    for l in range {
                        let center = xp + ri[l] * w
                        for c in 0..<w { acc[c] = Double(center[c]) * wc[0] }
                        var j = -r
                        while j < 0 {
                            let a = xp + ri[l + j] * w, b = xp + ri[l - j] * w
                            let wj = wc[j]
                            for c in 0..<w { acc[c] += (Double(a[c]) + Double(b[c])) * wj }
                            j += 1
                        }
                        let dst = mp + l * w
                        for c in 0..<w { dst[c] = Float(acc[c]) }
                    }
                }
            }
        }
        // Axis 1: each row extended by reflection into a Double line, then filtered.
        let out = Tensor(zeros: [h, w])
        let op = out.data
        let colIndex = (-r..<(w + r)).map { reflectIndex($0, w) }
        weights.withUnsafeBufferPointer { wb in
            colIndex.withUnsafeBufferPointer { cols in
                let wc = wb.baseAddress! + r
                Parallel.forRanges(h, minChunk: max(1, 4096 / max(w, 1))) { range in
                    let line = UnsafeMutablePointer<Double>.allocate(capacity: w + 2 * r)
                    let acc = UnsafeMutablePointer<Double>.allocate(capacity: w)
                    defer { line.deallocate(); acc.deallocate() }
                    let center = line + r
                    for row in range {
                        let src = mp + row * w
                        for i in 0..<(w + 2 * r) { line[i] = Double(src[cols[i]]) }
                        // Same per-output order as scipy (center, then pairs from the
                        // outermost in); the loop over outputs is innermost so it vectorises.
                        let w0 = wc[0]
                        for l in 0..<w { acc[l] = center[l] * w0 }
                        var j = -r
                        while j < 0 {
                            let wj = wc[j], left = center + j, right = center - j
                            for l in 0..<w { acc[l] += (left[l] + right[l]) * wj }
                            j += 1
                        }
                        let dst = op + row * w
                        for l in 0..<w { dst[l] = Float(acc[l]) }
                    }
                }
            }
        }
        return out
    }

    /// scipy's `_gaussian_kernel1d(sigma, 0, radius)` with radius = Int(4·sigma + 0.5):
    /// 2·radius + 1 Double weights summing to 1.
    public static func gaussianKernel1d(sigma: Double, truncate: Double = 4) -> [Double] {
        let radius = Int(truncate * sigma + 0.5)
        let factor = -0.5 / (sigma * sigma)
        var phi = (-radius...radius).map { exp(factor * Double($0 * $0)) }
        let total = phi.withUnsafeBufferPointer { numpyPairwiseSum($0.baseAddress!, $0.count) }
        for i in phi.indices { phi[i] /= total }
        return phi
    }

    /// NumPy's pairwise summation of a contiguous float64 array (`np.sum`): 8
    /// accumulators per block of ≤ 128, halves (multiple of 8) above.
    static package func numpyPairwiseSum(_ a: UnsafePointer<Double>, _ n: Int) -> Double {
        if n < 8 {
            var res = 0.0
            for i in 0..<n { res += a[i] }
            return res
        } else if n <= 128 {
            var r = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
            var i = 8
            while i < n - n % 8 {
                r.0 += a[i]; r.1 += a[i + 1]; r.2 += a[i + 2]; r.3 += a[i + 3]
                r.4 += a[i + 4]; r.5 += a[i + 5]; r.6 += a[i + 6]; r.7 += a[i + 7]
                i += 8
            }
            var res = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
            while i < n { res += a[i]; i += 1 }
            return res
        } else {
            var n2 = n / 2
            n2 -= n2 % 8
            return numpyPairwiseSum(a, n2) + numpyPairwiseSum(a + n2, n - n2)
        }
    }

    /// Half-sample symmetric reflection of index i into 0..<n, periodic with 2n.
    @inline(__always)
    static package func reflectIndex(_ i: Int, _ n: Int) -> Int {
        let period = 2 * n
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - 1 - m
    }
}
