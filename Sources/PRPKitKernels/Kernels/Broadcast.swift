extension Kernels {
    /// out[r] = s[r] ⊙ a[r / k] (or ÷ when `divide`), where `s` holds k signal rows per
    /// row of `a` (same trailing shape). Many relevance maps of one forward pass are
    /// processed as one batch this way.
    public static func rowBroadcast(_ s: Tensor, _ a: Tensor, divide: Bool = false) -> Tensor {
        let rowSize = a.count / max(a.shape[0], 1)
        let k = s.shape[0] / max(a.shape[0], 1)
        let out = Tensor(uninitialized: s.shape)
        let sp = s.data, ap = a.data, op = out.data
        Parallel.forRanges(s.shape[0]) { rows in
            for r in rows {
                let src = sp + r * rowSize, arg = ap + (r / k) * rowSize, dst = op + r * rowSize
                if divide {
                    for i in 0..<rowSize { dst[i] = src[i] / arg[i] }
                } else {
                    for i in 0..<rowSize { dst[i] = src[i] * arg[i] }
                }
            }
        }
        return out
    }

    /// a += b elementwise (equal counts); returns a.
    @discardableResult
    public static func accumulate(_ a: Tensor, _ b: Tensor) -> Tensor {
        let ap = a.data, bp = b.data
        Parallel.forRanges(a.count, minChunk: 1 << 15) { r in
            for i in r { ap[i] += bp[i] }
        }
        return a
    }
}
