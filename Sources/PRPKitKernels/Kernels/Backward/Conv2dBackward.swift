extension Kernels {
    /// Vector–Jacobian product of conv2d with respect to its input (a transposed
    /// convolution): g (B, Cout, Ho, Wo), weight (Cout, Cin/groups, kH, kW) → (B, Cin, H, W).
    /// `inputSize` is the forward input's (H, W). The bias does not enter.
    ///
    /// Stride-1 ungrouped convolutions run as a forward convolution with the flipped
    /// kernel. Otherwise, per row and group: columns = W_gᵀ·G_g on the packed GEMM, then
    /// col2im adds each column entry into its input pixel (1×1 stride-1 unpadded
    /// convolutions skip col2im); output rows are processed in bands so the column buffer
    /// stays cache-sized.
    /// `flipped`, when given, is `flippedTransposedKernel(weight)`, computed once by a caller
    /// that propagates through the same layer many times.
    public static func conv2dInputGradient(_ g: Tensor, weight: Tensor, _ a: Conv2dAttributes,
                                           inputSize: Pair2, flipped: Tensor? = nil) -> Tensor {
        let (b, co, ho, wo) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let (cig, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        let (h, w) = (inputSize.h, inputSize.w)
        let groups = a.groups, ci = cig * groups, cog = co / groups
        let gp = g.data, wp = weight.data
        let rowsK = cig * kh * kw
        // Stride 1, one group, kernel larger than 1×1: the transposed convolution is an
        // ordinary convolution of g with the flipped, transposed kernel, padded by
        // d·(k − 1) − p — the packed implicit-GEMM forward kernel, no column buffer.
        if transposedAsForward(weight, a) {
            return conv2d(g, weight: flipped ?? flippedTransposedKernel(weight), bias: nil, flippedConvAttributes(weight.shape, a))
        }
        let out = Tensor(zeros: [b, ci, h, w])
        let op = out.data
        if ConvolutionLog.active != nil {
            ConvolutionLog.record(flops: 2.0 * Double(b * co * ho * wo) * Double(rowsK), algorithm: .direct)
        }
        let pointwise = kh == 1 && kw == 1 && a.stride == Pair2(1, 1) && a.padding == Pair2(0, 0)
        let batched = b > 1 && groups == 1 && ho * wo * b <= 4096
        if pointwise && !batched {
            // dX_g (Cig × HW) = W_gᵀ (Cig × Cog) · G_g (Cog × HW)
            for r in 0..<b {
                for grp in 0..<groups {
                    gemm(m: cig, n: ho * wo, k: cog,
                         a: wp + grp * cog * cig, rowStrideA: 1, colStrideA: cig,
                         b: gp + (r * co + grp * cog) * ho * wo, rowStrideB: ho * wo, colStrideB: 1,
                         c: op + (r * ci + grp * cig) * h * w, rowStrideC: h * w, colStrideC: 1)
                }
            }
            return out
        }
        if batched {
            // Small maps (late layers, many signals of one image): one GEMM over every
            // signal, G gathered as (Cout × B·Ho·Wo), instead of B narrow GEMMs.
            let p = ho * wo, width = b * p
            let gathered = UnsafeMutablePointer<Float>.allocate(capacity: co * width)
            let products = UnsafeMutablePointer<Float>.allocate(capacity: (pointwise ? ci : rowsK) * width)
            defer { gathered.deallocate(); products.deallocate() }
            for r in 0..<b {
                for c in 0..<co { (gathered + c * width + r * p).update(from: gp + (r * co + c) * p, count: p) }
            }
            let m = pointwise ? ci : rowsK
            gemm(m: m, n: width, k: co, a: wp, rowStrideA: 1, colStrideA: m,
                 b: gathered, rowStrideB: width, colStrideB: 1, c: products, rowStrideC: width, colStrideC: 1)
            for r in 0..<b {
                let dst = op + r * ci * h * w
                if pointwise {
                    for c in 0..<ci { (dst + c * h * w).update(from: products + c * width + r * p, count: p) }
                } else {
                    col2im(products + r * p, n: width, firstRow: 0, rows: ho, wo: wo, channels: cig, kh: kh, kw: kw,
                           a, h: h, w: w, into: dst)
                }
            }
            return out
        }
        // Band of output rows per GEMM: about 2 MB of columns.
        let band = max(1, min(ho, (1 << 19) / max(rowsK * wo, 1)))
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: rowsK * band * wo)
        defer { columns.deallocate() }
        for r in 0..<b {
            for grp in 0..<groups {
                let dst = op + (r * ci + grp * cig) * h * w
                var y0 = 0
                while y0 < ho {
                    let rows = min(band, ho - y0), n = rows * wo
                    // columns (rowsK × n) = W_gᵀ (rowsK × Cog) · G_g[:, y0..<y0+rows] (Cog × n)
                    gemm(m: rowsK, n: n, k: cog,
                         a: wp + grp * cog * rowsK, rowStrideA: 1, colStrideA: rowsK,
                         b: gp + (r * co + grp * cog) * ho * wo + y0 * wo, rowStrideB: ho * wo, colStrideB: 1,
                         c: columns, rowStrideC: n, colStrideC: 1)
                    col2im(columns, n: n, firstRow: y0, rows: rows, wo: wo, channels: cig, kh: kh, kw: kw,
                           a, h: h, w: w, into: dst)
                    y0 += rows
                }
            }
        }
        return out
    }

    /// Adds column entries (channel, ky, kx) × (output pixel) into the input planes.
    /// Channels run in parallel: each writes its own plane.
    /// Whether `conv2dInputGradient` runs as a forward convolution with the flipped kernel.
    public static func transposedAsForward(_ weight: Tensor, _ a: Conv2dAttributes) -> Bool {
        transposedAsForward(weight.shape, a)
    }

    /// The same for a weight of shape (Cout, Cin/groups, kH, kW).
    public static func transposedAsForward(_ weightShape: [Int], _ a: Conv2dAttributes) -> Bool {
        let (kh, kw) = (weightShape[2], weightShape[3])
        return a.stride == Pair2(1, 1) && a.groups == 1 && (kh > 1 || kw > 1)
            && a.padding.h <= a.dilation.h * (kh - 1) && a.padding.w <= a.dilation.w * (kw - 1)
    }

    /// The attributes of that forward convolution (with the flipped, transposed kernel):
    /// stride 1, padded by d·(k − 1) − p.
    public static func flippedConvAttributes(_ weightShape: [Int], _ a: Conv2dAttributes) -> Conv2dAttributes {
        let (kh, kw) = (weightShape[2], weightShape[3])
        return Conv2dAttributes(stride: Pair2(1, 1),
                                padding: Pair2(a.dilation.h * (kh - 1) - a.padding.h, a.dilation.w * (kw - 1) - a.padding.w),
                                dilation: a.dilation, groups: 1)
    }

    /// W'[c, o, kh−1−y, kw−1−x] = W[o, c, y, x]: (Cout, Cin, kH, kW) → (Cin, Cout, kH, kW).
    public static func flippedTransposedKernel(_ w: Tensor) -> Tensor {
        let (co, ci, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let flipped = Tensor(uninitialized: [ci, co, kh, kw])
        let fp = flipped.data, wp = w.data
        Parallel.forRanges(co) { outs in
            for o in outs {
                for c in 0..<ci {
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            fp[((c * co + o) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] = wp[((o * ci + c) * kh + ky) * kw + kx]
                        }
                    }
                }
            }
        }
        return flipped
    }

    /// `n` is the row stride of `columns` (≥ rows·wo when several signals share a GEMM).
    static package func col2im(_ columns: UnsafeMutablePointer<Float>, n: Int, firstRow y0: Int, rows: Int, wo: Int,
                       channels: Int, kh: Int, kw: Int, _ a: Conv2dAttributes, h: Int, w: Int,
                       into dst: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(channels) { range in
            for c in range {
                let plane = dst + c * h * w
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let col = columns + ((c * kh + ky) * kw + kx) * n
                        for oy in 0..<rows {
                            let iy = (y0 + oy) * a.stride.h - a.padding.h + ky * a.dilation.h
                            if iy < 0 || iy >= h { continue }
                            let src = col + oy * wo, line = plane + iy * w
                            let xOff = kx * a.dilation.w - a.padding.w
                            if a.stride.w == 1 {
                                let lo = max(0, -xOff), hi = min(wo, w - xOff)
                                if lo < hi { for ox in lo..<hi { line[ox + xOff] += src[ox] } }
                            } else {
                                for ox in 0..<wo {
                                    let ix = ox * a.stride.w + xOff
                                    if ix >= 0 && ix < w { line[ix] += src[ox] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
