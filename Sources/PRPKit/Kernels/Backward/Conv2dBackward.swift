extension Kernels {
    /// Vector–Jacobian product of conv2d with respect to its input (a transposed
    /// convolution): g (B, Cout, Ho, Wo), weight (Cout, Cin/groups, kH, kW) → (B, Cin, H, W).
    /// `inputSize` is the forward input's (H, W). The bias does not enter.
    public static func conv2dInputGradient(_ g: Tensor, weight: Tensor, _ a: Conv2dAttributes,
                                           inputSize: Pair2) -> Tensor {
        let (b, co, ho, wo) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let (cig, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        let (h, w) = (inputSize.h, inputSize.w)
        let ci = cig * a.groups, cog = co / a.groups
        let out = Tensor(zeros: [b, ci, h, w])
        let gp = g.data, wp = weight.data, op = out.data
        Parallel.forEach(b * ci) { job in
            let n = job / ci, c = job % ci
            let grp = c / cig, cl = c % cig
            let dst = op + job * h * w
            for ol in 0..<cog {
                let o = grp * cog + ol
                let src = gp + (n * co + o) * ho * wo
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let wv = wp[((o * cig + cl) * kh + ky) * kw + kx]
                        if wv == 0 { continue }
                        for oy in 0..<ho {
                            let iy = oy * a.stride.h - a.padding.h + ky * a.dilation.h
                            if iy < 0 || iy >= h { continue }
                            for ox in 0..<wo {
                                let ix = ox * a.stride.w - a.padding.w + kx * a.dilation.w
                                if ix < 0 || ix >= w { continue }
                                dst[iy * w + ix] += wv * src[oy * wo + ox]
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
