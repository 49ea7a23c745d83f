extension Kernels {
    /// 2-D convolution (cross-correlation, as PyTorch). x: (N, C, H, W), weight:
    /// (Cout, C/groups, kH, kW), bias: (Cout) or nil → (N, Cout, Ho, Wo).
    ///
    /// Per image and group this is the GEMM out (Cout/groups × Ho·Wo) = W (Cout/groups × K)
    /// · im2col(x) (K × Ho·Wo), K = C/groups·kH·kW. W is packed once; the im2col matrix is
    /// never formed: its kc × nc blocks are gathered straight into packed B panels
    /// (implicit GEMM). 1×1 stride-1 unpadded convs read x as B directly. Depthwise-style
    /// convs (one input channel per group) use a direct kernel instead.
    ///
    /// `packedWeights`, when given and made from this `weight` for the current kernel set
    /// (`PackedConvWeights.matches`), replaces the per-call packing of the weights;
    /// `epilogue` (BatchNorm scale/shift, ReLU) is applied as each output block is stored.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ a: Conv2dAttributes,
                              packedWeights: PackedConvWeights? = nil, epilogue: ConvEpilogue? = nil) -> Tensor {
        conv2d(x, weightShape: weight.shape, weight: weight, bias: bias, a, packedWeights: packedWeights, epilogue: epilogue)
    }

    /// conv2d from a packing alone (no unpacked copy of the weights exists): `packed` must
    /// be in the layout `conv2dWeightLayout` gives for `x` and made for the current kernel
    /// set (`PackedConvWeights.matches`); anything else is a caller's bug and traps.
    static package func conv2d(_ x: Tensor, packed: PackedConvWeights, bias: Tensor?, _ a: Conv2dAttributes,
                               epilogue: ConvEpilogue? = nil) -> Tensor {
        conv2d(x, weightShape: packed.shape, weight: nil, bias: bias, a, packedWeights: packed, epilogue: epilogue)
    }

    /// `weight` nil: only `packedWeights` holds the weights, and it must fit the path taken.
    private static func conv2d(_ x: Tensor, weightShape: [Int], weight: Tensor?, bias: Tensor?, _ a: Conv2dAttributes,
                               packedWeights: PackedConvWeights?, epilogue: ConvEpilogue?) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, cig, kh, kw) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
        let ho = windowExtent(h, kernel: kh, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: false)
        let wo = windowExtent(w, kernel: kw, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: false)
        // The GEMM path writes every output element; the other paths start from zeros.
        let gemmPath = !(cig == 1 && a.groups > 1) && cig * kh * kw > 0
        let out = gemmPath ? Tensor(uninitialized: [n, co, ho, wo]) : Tensor(zeros: [n, co, ho, wo])
        if n == 0 || co == 0 || ho <= 0 || wo <= 0 { return out }
        // Profiling (PassProfile): the convolution's direct-equivalent FLOPs and algorithm.
        func record(_ layout: ConvWeightLayout) {
            if ConvolutionLog.active != nil {
                ConvolutionLog.record(flops: 2.0 * Double(n * co * ho * wo) * Double(cig * kh * kw), algorithm: layout)
            }
        }
        if cig == 1 && a.groups > 1 {
            record(.direct)
            conv2dDirectSingleInputChannel(x, weight: unpacked(weight), bias: bias, a, out: out)
            epilogue?.apply(out.data, rows: n * co, columns: ho * wo, rowStride: ho * wo, channelCount: co)
            return out
        }
        let groups = a.groups, cog = co / groups
        let kDim = cig * kh * kw, p = ho * wo
        let xp = x.data, op = out.data, bp: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        if kDim == 0 {
            if let bp { for img in 0..<n { for o in 0..<co { (op + (img * co + o) * p).update(repeating: bp[o], count: p) } } }
            epilogue?.apply(op, rows: n * co, columns: p, rowStride: p, channelCount: co)
            return out
        }
        let ks = GEMMKernelSet.current
        let mr = ks.mr, nr = ks.nr, kcB = GEMMBlocking.kc, ncB = GEMMBlocking.nc

        // Winograd needs its transformed weights (made once per weight, never per call).
        if let pw = packedWeights, case .winograd = pw.layout, pw.matches(weightShape, groups: groups, layout: pw.layout, kernels: ks),
           winogradApplies(weight: weightShape, a) {
            record(pw.layout)
            conv2dWinograd(x, weights: pw, bias: bias, a, epilogue: epilogue, out: out, kernels: ks)
            return out
        }
        let pointwise = kh == 1 && kw == 1 && a.stride == Pair2(1, 1) && a.padding == Pair2(0, 0)
        // Only with a cached W^T packing: packing W^T per call (strided reads of every
        // weight) costs more than the small-map path saves.
        if let pw = packedWeights, pw.layout == .transposed, pw.matches(weightShape, groups: groups, layout: .transposed, kernels: ks),
           conv2dTransposed(p: p, cog: cog, kernels: ks) {
            record(.transposed)
            conv2dSmallMap(x, weightShape: weightShape, weight: weight, bias: bias, a, packedWeights: packedWeights,
                           ho: ho, wo: wo, pointwise: pointwise, kernels: ks, out: out)
            epilogue?.apply(op, rows: n * co, columns: p, rowStride: p, channelCount: co)
            return out
        }
        record(.direct)
        // Every group's weight matrix packed once (cached by the caller, or packed here).
        let mSlivers = (cog + mr - 1) / mr, mPad = mSlivers * mr
        let packedPointer: UnsafePointer<Float>
        var scratch: AlignedFloats? = nil
        defer { scratch?.free() }
        if let pw = packedWeights, pw.matches(weightShape, groups: groups, layout: .direct, kernels: ks) {
            packedPointer = UnsafePointer(pw.pointer)
        } else {
            let buf = ScratchPool.take(groups * mPad * kDim)
            scratch = buf
            PackedConvWeights.pack(unpacked(weight), groups: groups, transposed: false, kernels: ks, into: buf.pointer)
            packedPointer = UnsafePointer(buf.pointer)
        }

        let stripsPerPlane = (p + nr - 1) / nr
        let totalStrips = n * groups * stripsPerPlane
        let threads = Parallel.threadCount
        let sParts = min(totalStrips, threads)
        let mParts = (threads > 1 && totalStrips < 4 * threads && mSlivers >= 2 * threads) ? threads : 1

        if mParts > 1 {
            // Few column strips: the workers split the output channels; each plane's packed
            // im2col (all kc blocks) is made once, shared by all workers.
            let nPadP = stripsPerPlane * nr
            let bAll = ScratchPool.take(kDim * nPadP)
            defer { bAll.free() }
            let blocks = (kDim + kcB - 1) / kcB
            for plane in 0..<(n * groups) {
                let img = plane / groups, g = plane % groups
                let xg = UnsafePointer(xp + (img * c + g * cig) * h * w)
                Parallel.forEach(blocks) { blk in
                    let pc = blk * kcB, kc = min(kcB, kDim - pc)
                    if pointwise {
                        ks.packB(xg + pc * h * w, h * w, 1, kc, p, bAll.pointer + pc * nPadP)
                    } else {
                        ks.packConvB(xg, h, w, kh, kw, a.stride.h, a.stride.w, a.padding.h, a.padding.w,
                                     a.dilation.h, a.dilation.w, wo, pc, kc, 0, p, bAll.pointer + pc * nPadP)
                    }
                }
                let wg = packedPointer + g * mPad * kDim
                Parallel.forEach(mParts) { mpart in
                    let r0 = mpart * mSlivers / mParts, r1 = (mpart + 1) * mSlivers / mParts
                    let i0 = r0 * mr, mc = min(cog, r1 * mr) - i0
                    if mc <= 0 { return }
                    let cg = op + (img * co + g * cog + i0) * p
                    let rowBias = bp.map { $0 + g * cog + i0 }
                    var pc = 0
                    while pc < kDim {
                        let kc = min(kcB, kDim - pc)
                        ks.macroKernel(mc, p, kc, wg + mPad * pc + i0 * kc, UnsafePointer(bAll.pointer + pc * nPadP),
                                       cg, p, 1, pc > 0, pc == 0 ? rowBias : nil, nil)
                        pc += kc
                    }
                    epilogue?.apply(cg, rows: mc, columns: p, rowStride: p, firstChannel: g * cog + i0)
                }
            }
            return out
        }

        Parallel.forEach(sParts * mParts) { job in
            let sp = job % sParts, mpart = job / sParts
            let r0 = mpart * mSlivers / mParts, r1 = (mpart + 1) * mSlivers / mParts
            let i0 = r0 * mr, mc = min(cog, r1 * mr) - i0
            if mc <= 0 { return }
            let bBuf = ScratchPool.take(min(kcB, kDim) * min(ncB, stripsPerPlane * nr))
            defer { bBuf.free() }
            var s = sp * totalStrips / sParts
            let sEnd = (sp + 1) * totalStrips / sParts
            while s < sEnd {
                let plane = s / stripsPerPlane, t = s % stripsPerPlane
                let tEnd = min(stripsPerPlane, t + (sEnd - s))
                let img = plane / groups, g = plane % groups
                let xg = UnsafePointer(xp + (img * c + g * cig) * h * w)
                let cg = op + (img * co + g * cog + i0) * p
                let wg = packedPointer + g * mPad * kDim
                let rowBias = bp.map { $0 + g * cog + i0 }
                var jc = t * nr
                let jEnd = min(p, tEnd * nr)
                while jc < jEnd {
                    let nc = min(ncB, jEnd - jc)
                    var pc = 0
                    while pc < kDim {
                        let kc = min(kcB, kDim - pc)
                        if pointwise {
                            ks.packB(xg + pc * h * w + jc, h * w, 1, kc, nc, bBuf.pointer)
                        } else {
                            ks.packConvB(xg, h, w, kh, kw, a.stride.h, a.stride.w, a.padding.h, a.padding.w,
                                         a.dilation.h, a.dilation.w, wo, pc, kc, jc, nc, bBuf.pointer)
                        }
                        ks.macroKernel(mc, nc, kc, wg + mPad * pc + i0 * kc, bBuf.pointer,
                                       cg + jc, p, 1, pc > 0, pc == 0 ? rowBias : nil, nil)
                        pc += kc
                    }
                    // While the block is in cache.
                    epilogue?.apply(cg + jc, rows: mc, columns: nc, rowStride: p, firstChannel: g * cog + i0)
                    jc += nc
                }
                s += tEnd - t
            }
        }
        return out
    }

    /// Whether a GEMM-path convolution with `p` = Ho·Wo output positions and `cog` output
    /// channels per group runs as out^T = im2col^T · W^T (`conv2dSmallMap`): small maps, whose
    /// few positions would leave much of a wide register tile empty, with enough output
    /// channels for every worker to get whole column strips.
    static package func conv2dTransposed(p: Int, cog: Int, kernels ks: GEMMKernelSet) -> Bool {
        p <= ks.nr && p < 60 && (cog + ks.nr - 1) / ks.nr >= Parallel.threadCount && cog >= 48
    }

    /// The unpacked weights a path without a usable packing reads; a packing-only call
    /// whose packing does not fit the path is a caller's bug.
    private static func unpacked(_ weight: Tensor?) -> Tensor {
        guard let weight else {
            preconditionFailure("prpkit: conv2d from a packing alone, but the packing is not in the layout this call needs")
        }
        return weight
    }

    /// Whether `conv2d` runs on packed weights for a weight of shape (Cout, Cin/groups, kH,
    /// kW) (not the direct one-input-channel path, not an empty kernel).
    public static func conv2dPacksWeights(_ weightShape: [Int], _ a: Conv2dAttributes) -> Bool {
        weightShape[1] * weightShape[2] * weightShape[3] > 0 && !(weightShape[1] == 1 && a.groups > 1)
    }

    /// The weight layout `conv2d` wants for an input of shape `input` (N, C, H, W) — the
    /// fastest algorithm by `ConvCostModel` for the current kernels and thread count. The
    /// choice depends on the per-image shape only, never on the batch size N, so a result
    /// does not change when it is computed in a batch. A packing in this layout, passed as
    /// `packedWeights`, selects the algorithm.
    ///
    /// `signDefinite`: the weights all have one sign (a rule's W⁺ or W⁻). Such a
    /// convolution of a non-negative input (α1β0's z⁺, its backward) is a sum of terms of
    /// one sign: the direct kernel computes it to a relative error of a few ulps, keeps its
    /// sign, and keeps small values small — which the rules' denominators z⁺ + ε and a
    /// heatmap's polarity rely on. Winograd's transforms mix signs and only bound the error
    /// relative to a whole tile's magnitude, so these keep the direct kernel.
    public static func conv2dWeightLayout(input: [Int], weight: [Int], _ a: Conv2dAttributes,
                                          signDefinite: Bool = false) -> ConvWeightLayout {
        let (cig, kh, kw) = (weight[1], weight[2], weight[3])
        if cig == 1 && a.groups > 1 || cig * kh * kw == 0 { return .direct }
        let ho = windowExtent(input[2], kernel: kh, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: false)
        let wo = windowExtent(input[3], kernel: kw, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: false)
        if ho <= 0 || wo <= 0 { return .direct }
        let ks = GEMMKernelSet.current
        if !signDefinite, winogradApplies(weight: weight, a),
           let layout = ConvCostModel.winograd(ho: ho, wo: wo, cin: cig, cout: weight[0], kernels: ks) {
            return layout
        }
        return conv2dTransposed(p: ho * wo, cog: weight[0] / a.groups, kernels: ks) ? .transposed : .direct
    }

    /// Whether every entry of `w` is ≥ 0, or every entry ≤ 0 (see `conv2dWeightLayout`).
    public static func isSignDefinite(_ w: Tensor) -> Bool {
        var positive = false, negative = false
        for v in w.buffer {
            if v > 0 { positive = true } else if v < 0 { negative = true }
            if positive && negative { return false }
        }
        return true
    }

    /// Small output maps (p = Ho·Wo ≤ nr): per image and group, T (p × Cout/groups) =
    /// im2col^T · W^T with the output channels as the vector dimension, then T is transposed
    /// into the output. W^T is the packed B operand (cached by the caller; packed here only
    /// as a fallback); the workers split the output channels in whole nr strips.
    static package func conv2dSmallMap(_ x: Tensor, weightShape: [Int], weight: Tensor?, bias: Tensor?, _ a: Conv2dAttributes,
                               packedWeights: PackedConvWeights?, ho: Int, wo: Int, pointwise: Bool,
                               kernels ks: GEMMKernelSet, out: Tensor) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, cig, kh, kw) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
        let groups = a.groups, cog = co / groups, kDim = cig * kh * kw, p = ho * wo
        let mr = ks.mr, nr = ks.nr, kcB = GEMMBlocking.kc, ncB = GEMMBlocking.nc
        let nPad = (cog + nr - 1) / nr * nr, nStrips = nPad / nr
        let packedPointer: UnsafePointer<Float>
        var scratch: AlignedFloats? = nil
        defer { scratch?.free() }
        if let pw = packedWeights, pw.matches(weightShape, groups: groups, layout: .transposed, kernels: ks) {
            packedPointer = UnsafePointer(pw.pointer)
        } else {
            let buf = ScratchPool.take(groups * nPad * kDim)
            scratch = buf
            PackedConvWeights.pack(unpacked(weight), groups: groups, transposed: true, kernels: ks, into: buf.pointer)
            packedPointer = UnsafePointer(buf.pointer)
        }
        let xp = UnsafePointer(x.data), op = out.data, bp: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        let parts = max(1, min(Parallel.threadCount, nStrips))
        let pPad = (p + mr - 1) / mr * mr, kcMax = min(kcB, kDim)
        Parallel.forEach(parts) { part in
            let j0 = part * nStrips / parts * nr, j1 = min(cog, (part + 1) * nStrips / parts * nr)
            if j1 <= j0 { return }
            let ldt = j1 - j0
            let aBuf = ScratchPool.take(pPad * kcMax), tBuf = ScratchPool.take(p * ldt)
            let colBuf = pointwise ? nil : ScratchPool.take(kcMax * nr)
            defer { aBuf.free(); tBuf.free(); colBuf?.free() }
            for plane in 0..<(n * groups) {
                let img = plane / groups, g = plane % groups
                let xg = xp + (img * c + g * cig) * h * w
                let wg = packedPointer + g * nPad * kDim
                var pc = 0
                while pc < kDim {
                    let kc = min(kcB, kDim - pc)
                    // A = im2col^T rows pc..<pc+kc: element (j, k) at src[j + k·cs].
                    if let colBuf {
                        ks.packConvB(xg, h, w, kh, kw, a.stride.h, a.stride.w, a.padding.h, a.padding.w,
                                     a.dilation.h, a.dilation.w, wo, pc, kc, 0, p, colBuf.pointer)
                        ks.packA(UnsafePointer(colBuf.pointer), 1, nr, p, kc, aBuf.pointer)
                    } else {
                        ks.packA(xg + pc * p, 1, p, p, kc, aBuf.pointer)
                    }
                    var jc = j0
                    while jc < j1 {
                        let nc = min(ncB, j1 - jc)
                        ks.macroKernel(p, nc, kc, aBuf.pointer, wg + nPad * pc + jc * kc,
                                       tBuf.pointer + (jc - j0), ldt, 1, pc > 0, nil,
                                       pc == 0 ? bp.map { $0 + g * cog + jc } : nil)
                        jc += nc
                    }
                    pc += kc
                }
                // T (p × ldt) → output channels g·cog + j0 ..< g·cog + j1, 16 channels at a
                // time (contiguous reads of T, 16 sequential output rows).
                let t = tBuf.pointer, dst0 = op + (img * co + g * cog + j0) * p
                var o0 = 0
                while o0 < ldt {
                    let ob = min(16, ldt - o0)
                    for j in 0..<p {
                        let src = t + j * ldt + o0, dst = dst0 + o0 * p + j
                        for q in 0..<ob { dst[q * p] = src[q] }
                    }
                    o0 += 16
                }
            }
        }
    }

    /// Direct convolution when each group has one input channel (depthwise, possibly with a
    /// channel multiplier): output channel o reads input channel o / (Cout / groups).
    static package func conv2dDirectSingleInputChannel(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                               _ a: Conv2dAttributes, out: Tensor) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (out.shape[2], out.shape[3])
        let cog = co / a.groups
        let (sh, sw, ph, pw, dh, dw) = (a.stride.h, a.stride.w, a.padding.h, a.padding.w, a.dilation.h, a.dilation.w)
        let xp = x.data, wp = weight.data, op = out.data, bp = bias?.data
        Parallel.forEach(n * co) { job in
            let img = job / co, o = job % co
            let src = xp + (img * c + o / cog) * h * w
            let dst = op + job * ho * wo
            dst.update(repeating: bp?[o] ?? 0, count: ho * wo)
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let wv = wp[(o * kh + ky) * kw + kx]
                    let off = kx * dw - pw
                    // Output columns whose input column ox·sw + off lies in 0..<w.
                    let lo = off >= 0 ? 0 : (-off + sw - 1) / sw
                    let hi = (w - 1 - off) < 0 ? 0 : min(wo, (w - 1 - off) / sw + 1)
                    if hi <= lo { continue }
                    for oy in 0..<ho {
                        let iy = oy * sh - ph + ky * dh
                        if iy < 0 || iy >= h { continue }
                        let s = src + iy * w + off, d = dst + oy * wo
                        if sw == 1 {
                            for ox in lo..<hi { d[ox] += wv * s[ox] }
                        } else {
                            for ox in lo..<hi { d[ox] += wv * s[ox * sw] }
                        }
                    }
                }
            }
        }
    }
}
