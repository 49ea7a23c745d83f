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
    /// (`PackedConvWeights.matches`), replaces the per-call packing of the weights.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ a: Conv2dAttributes,
                              packedWeights: PackedConvWeights? = nil) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, cig, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let ho = ShapeInference.pooledExtent(h, kernel: kh, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: false)
        let wo = ShapeInference.pooledExtent(w, kernel: kw, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: false)
        // The GEMM path writes every output element; the other paths start from zeros.
        let gemmPath = !(cig == 1 && a.groups > 1) && cig * kh * kw > 0
        let out = gemmPath ? Tensor(uninitialized: [n, co, ho, wo]) : Tensor(zeros: [n, co, ho, wo])
        if n == 0 || co == 0 || ho <= 0 || wo <= 0 { return out }
        if cig == 1 && a.groups > 1 {
            conv2dDirectSingleInputChannel(x, weight: weight, bias: bias, a, out: out)
            return out
        }
        let groups = a.groups, cog = co / groups
        let kDim = cig * kh * kw, p = ho * wo
        let xp = x.data, op = out.data, bp: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        if kDim == 0 {
            if let bp { for img in 0..<n { for o in 0..<co { (op + (img * co + o) * p).update(repeating: bp[o], count: p) } } }
            return out
        }
        let ks = GEMMKernelSet.current
        let mr = ks.mr, nr = ks.nr, kcB = GEMMBlocking.kc, ncB = GEMMBlocking.nc

        // Every group's weight matrix packed once (cached by the caller, or packed here).
        let mSlivers = (cog + mr - 1) / mr, mPad = mSlivers * mr
        let packedPointer: UnsafePointer<Float>
        var scratch: AlignedFloats? = nil
        defer { scratch?.free() }
        if let pw = packedWeights, pw.matches(weight, groups: groups, kernels: ks) {
            packedPointer = UnsafePointer(pw.pointer)
        } else {
            let buf = ScratchPool.take(groups * mPad * kDim)
            scratch = buf
            PackedConvWeights.pack(weight, groups: groups, kernels: ks, into: buf.pointer)
            packedPointer = UnsafePointer(buf.pointer)
        }

        let pointwise = kh == 1 && kw == 1 && a.stride == Pair2(1, 1) && a.padding == Pair2(0, 0)
        let stripsPerPlane = (p + nr - 1) / nr
        let totalStrips = n * groups * stripsPerPlane
        let threads = Parallel.threadCount
        let sParts = min(totalStrips, threads)
        let mParts = (threads > 1 && totalStrips < 4 * threads && mSlivers >= 2 * threads) ? threads : 1

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
                    jc += nc
                }
                s += tEnd - t
            }
        }
        return out
    }

    /// Direct convolution when each group has one input channel (depthwise, possibly with a
    /// channel multiplier): output channel o reads input channel o / (Cout / groups).
    static func conv2dDirectSingleInputChannel(_ x: Tensor, weight: Tensor, bias: Tensor?,
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

/// A convolution's weights packed for the GEMM kernels of one ISA level: for each group,
/// the (Cout/groups × K) matrix in packed-A layout, kc-block pc (columns pc..<pc+kc) at
/// offset mPad·pc. Immutable after construction; safe to share between threads. Made from
/// weights that do not change afterwards (a graph's parameters).
public final class PackedConvWeights: @unchecked Sendable {
    let level: Int, mr: Int, kc: Int
    let shape: [Int]
    let groups: Int
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// Packs `weight` (Cout, Cin/groups, kH, kW) for the current kernel set.
    public convenience init(weight: Tensor, groups: Int) {
        self.init(weight: weight, groups: groups, kernels: GEMMKernelSet.current)
    }

    init(weight: Tensor, groups: Int, kernels ks: GEMMKernelSet) {
        level = ks.level; mr = ks.mr; kc = GEMMBlocking.kc
        shape = weight.shape
        self.groups = groups
        let co = weight.shape[0], kDim = weight.shape[1] * weight.shape[2] * weight.shape[3]
        let cog = co / max(groups, 1)
        let mPad = (cog + ks.mr - 1) / ks.mr * ks.mr
        count = max(groups * mPad * kDim, 16)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        PackedConvWeights.pack(weight, groups: groups, kernels: ks, into: pointer)
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    /// Whether this packing was made from a weight of `weight`'s shape with `groups` for
    /// the kernel set `ks` (same ISA level, register tile and kc blocking).
    func matches(_ weight: Tensor, groups: Int, kernels ks: GEMMKernelSet) -> Bool {
        level == ks.level && mr == ks.mr && kc == GEMMBlocking.kc && self.groups == groups && shape == weight.shape
    }

    /// Whether this packing is usable with the current kernel set for `weight` and `groups`.
    public func matches(_ weight: Tensor, groups: Int) -> Bool {
        matches(weight, groups: groups, kernels: GEMMKernelSet.current)
    }

    /// Packs every group's weight matrix into `dst` (groups·mPad·K floats).
    static func pack(_ weight: Tensor, groups: Int, kernels ks: GEMMKernelSet, into dst: UnsafeMutablePointer<Float>) {
        let co = weight.shape[0], kDim = weight.shape[1] * weight.shape[2] * weight.shape[3]
        if kDim == 0 || co == 0 { return }
        let cog = co / groups, kcB = GEMMBlocking.kc
        let mPad = (cog + ks.mr - 1) / ks.mr * ks.mr
        let blocks = (kDim + kcB - 1) / kcB
        let wp = UnsafePointer(weight.data)
        Parallel.forEach(groups * blocks) { job in
            let g = job / blocks, pc = (job % blocks) * kcB
            ks.packA(wp + g * cog * kDim + pc, kDim, 1, cog, min(kcB, kDim - pc),
                     dst + g * mPad * kDim + mPad * pc)
        }
    }
}
