extension Kernels {
    /// 2-D convolution (cross-correlation, as PyTorch). x: (N, C, H, W), weight:
    /// (Cout, C/groups, kH, kW), bias: (Cout) or nil → (N, Cout, Ho, Wo).
    /// Direct loops: correct for every attribute combination; the packed GEMM path replaces it.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ a: Conv2dAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, cig, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let ho = ShapeInference.pooledExtent(h, kernel: kh, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: false)
        let wo = ShapeInference.pooledExtent(w, kernel: kw, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: false)
        let out = Tensor(zeros: [n, co, ho, wo])
        let cog = co / a.groups
        let xp = x.data, wp = weight.data, op = out.data
        let bp = bias?.data
        Parallel.forEach(n * co) { job in
            let b = job / co, o = job % co
            let g = o / cog
            let dst = op + (b * co + o) * ho * wo
            let initial = bp.map { $0[o] } ?? 0
            for i in 0..<(ho * wo) { dst[i] = initial }
            for ci in 0..<cig {
                let src = xp + (b * c + g * cig + ci) * h * w
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let wv = wp[((o * cig + ci) * kh + ky) * kw + kx]
                        for oy in 0..<ho {
                            let iy = oy * a.stride.h - a.padding.h + ky * a.dilation.h
                            if iy < 0 || iy >= h { continue }
                            for ox in 0..<wo {
                                let ix = ox * a.stride.w - a.padding.w + kx * a.dilation.w
                                if ix < 0 || ix >= w { continue }
                                dst[oy * wo + ox] += wv * src[iy * w + ix]
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
