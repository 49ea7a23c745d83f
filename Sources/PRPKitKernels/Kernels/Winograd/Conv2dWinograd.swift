extension Kernels {
    /// Whether a convolution with this weight shape and these attributes can run as
    /// Winograd F(m×m, 3×3): a 3×3 kernel, stride 1, dilation 1, one group (any padding).
    public static func winogradApplies(weight: [Int], _ a: Conv2dAttributes) -> Bool {
        weight.count == 4 && weight[2] == 3 && weight[3] == 3 && weight[0] > 0 && weight[1] > 0
            && a.stride == Pair2(1, 1) && a.dilation == Pair2(1, 1) && a.groups == 1
    }

    /// Winograd F(m×m, 3×3) convolution into `out` (N, Cout, Ho, Wo), every element written.
    /// `u` holds the transformed weights (layout `.winograd`).
    ///
    /// The output planes are cut into m×m tiles; tiles of all images form the columns of
    /// α² independent GEMMs M_ξ (Cout × tiles) = U_ξ (Cout × Cin) · V_ξ (Cin × tiles), where
    /// V_ξ holds the input tiles transformed by Bᵀ·d·B (written straight into packed
    /// panels) and M_ξ is transformed back by Aᵀ·M·A into the output. With few tiles per
    /// image (`tilesAsRows`) the GEMMs run transposed, M_ξᵀ = V_ξᵀ · U_ξᵀ, so that the
    /// output channels fill the register tile's wide side. Tiles are processed in blocks;
    /// in each block the workers split first the input channels, then the α² GEMMs, then
    /// the output channels. A tile's arithmetic is the same in either orientation and does
    /// not depend on the other tiles, so results do not depend on the batch size.
    static package func conv2dWinograd(_ x: Tensor, weights u: PackedConvWeights, bias: Tensor?, _ a: Conv2dAttributes,
                               epilogue: ConvEpilogue? = nil, out: Tensor, kernels ks: GEMMKernelSet) {
        guard case .winograd(let m, let asRows) = u.layout else { preconditionFailure("not a Winograd packing") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, ho, wo) = (out.shape[1], out.shape[2], out.shape[3])
        let alpha = m + 2, a2 = alpha * alpha
        let tileRows = (ho + m - 1) / m, tileCols = (wo + m - 1) / m, perImage = tileRows * tileCols
        let total = n * perImage
        let mr = ks.mr, nr = ks.nr, kcB = GEMMBlocking.kc
        // Packed V: `width` columns (tiles) per row, or `width` rows (tiles, whole slivers).
        let unit = asRows ? 48 : max(nr, 16)  // 48: whole 16-tile groups and mr = 6 slivers
        let block = WinogradBlocking.tiles(total: total, channels: c, outChannels: co, alpha: alpha, unit: unit)
        let width = (block + unit - 1) / unit * unit
        // M_ξ rows: output channels × width, or tiles × ldm (channels padded to 16 lanes).
        let ldm = asRows ? (co + 15) / 16 * 16 : width
        let mRows = asRows ? width : co
        let wPad = asRows ? (co + nr - 1) / nr * nr : (co + mr - 1) / mr * mr
        // Matrix strides one cache line past a multiple of the 4 KB page: the α² matrices
        // of one position (written by the input transform, read by the output transform
        // together) then fall in different cache sets.
        let vStride = Self.offPage(c * width), mStride = Self.offPage(mRows * ldm)
        let vBuf = ScratchPool.take(a2 * vStride), mBuf = ScratchPool.take(a2 * mStride)
        let groupsMax = width / 16
        let inTiles = UnsafeMutablePointer<Int>.allocate(capacity: 48 * groupsMax)
        let outTiles = UnsafeMutablePointer<Int>.allocate(capacity: 48 * groupsMax)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: groupsMax)
        defer { vBuf.free(); mBuf.free(); inTiles.deallocate(); outTiles.deallocate(); counts.deallocate() }
        let xp = UnsafePointer(x.data), op = out.data, bp = bias.map { UnsafePointer($0.data) }
        let up = UnsafePointer(u.pointer), vp = vBuf.pointer, mp = mBuf.pointer
        let threads = Parallel.threadCount
        // The epilogue runs in the output transform, on values still in registers.
        let relu = epilogue?.relu ?? false
        let scale = epilogue?.scale.map { AlignedCopy($0) }, shift = epilogue?.shift.map { AlignedCopy($0) }
        defer { scale?.free(); shift?.free() }
        let sp = scale.map { UnsafePointer($0.pointer) }, tp = shift.map { UnsafePointer($0.pointer) }

        var start = 0
        while start < total {
            let cols = min(block, total - start)
            let dataGroups = (cols + 15) / 16
            // Tiles the GEMM reads (zero tiles fill them): whole slivers of rows; in the
            // column layout, the wide micro-kernel reads a whole last strip unless its data
            // fits its 16-column slices.
            let rem = cols % nr
            let readCols = asRows ? (cols + mr - 1) / mr * mr
                : cols - rem + (rem == 0 ? 0 : (nr > 16 && rem <= 32 ? (rem + 15) / 16 * 16 : nr))
            let inputGroups = max(dataGroups, (readCols + 15) / 16)
            for gi in 0..<inputGroups {
                let count = max(0, min(16, cols - gi * 16))
                counts[gi] = count
                for j in 0..<count {
                    let t = start + gi * 16 + j
                    let img = t / perImage, r = t % perImage
                    let ty = r / tileCols * m, tx = r % tileCols * m
                    let ti = inTiles + gi * 48, to = outTiles + gi * 48
                    ti[j] = img * c * h * w; ti[16 + j] = ty - a.padding.h; ti[32 + j] = tx - a.padding.w
                    to[j] = img * co * ho * wo; to[16 + j] = ty; to[32 + j] = tx
                }
            }
            // 1. Input transform: (group, channel range) jobs.
            let cParts = max(1, min(c, (4 * threads + inputGroups - 1) / inputGroups))
            Parallel.forEach(inputGroups * cParts) { job in
                let gi = job / cParts, part = job % cParts
                let k0 = part * c / cParts, k1 = (part + 1) * c / cParts
                if k1 <= k0 { return }
                ks.winogradInput(m, xp, h, w, UnsafePointer(inTiles + gi * 48), counts[gi], k0..<k1, c,
                                 kcB, asRows ? readCols : width, gi * 16, asRows, vp, vStride)
            }
            // 2. The α² GEMMs M_ξ = U_ξ · V_ξ (or M_ξᵀ = V_ξᵀ · U_ξᵀ).
            Parallel.forEach(a2) { xi in
                var pc = 0
                while pc < c {
                    let kc = min(kcB, c - pc)
                    let uBlock = up + xi * wPad * c + wPad * pc
                    if asRows {
                        ks.macroKernel(cols, co, kc, UnsafePointer(vp + xi * vStride + readCols * pc), uBlock,
                                       mp + xi * mStride, ldm, 1, pc > 0, nil, nil)
                    } else {
                        ks.macroKernel(co, cols, kc, uBlock, UnsafePointer(vp + xi * vStride + pc * width),
                                       mp + xi * mStride, ldm, 1, pc > 0, nil, nil)
                    }
                    pc += kc
                }
            }
            // 3. Output transform: (group, output-channel range) jobs.
            let oParts = max(1, min(asRows ? (co + 15) / 16 : co, (4 * threads + dataGroups - 1) / dataGroups))
            Parallel.forEach(dataGroups * oParts) { job in
                let gi = job / oParts, part = job % oParts
                let tiles = UnsafePointer(outTiles + gi * 48)
                if asRows {
                    // Whole 16-channel lanes per job.
                    let lanes = (co + 15) / 16
                    let o0 = part * lanes / oParts * 16, o1 = min(co, (part + 1) * lanes / oParts * 16)
                    if o1 <= o0 { return }
                    ks.winogradOutputChannels(m, UnsafePointer(mp + gi * 16 * ldm), mStride, ldm, o0..<o1, op, ho, wo,
                                              tiles, counts[gi], bp, sp, tp, relu)
                } else {
                    let o0 = part * co / oParts, o1 = (part + 1) * co / oParts
                    if o1 <= o0 { return }
                    ks.winogradOutput(m, UnsafePointer(mp + gi * 16), mStride, ldm, o0..<o1, op, ho, wo,
                                      tiles, counts[gi], bp, sp, tp, relu)
                }
            }
            start += cols
        }
    }

    /// `floats` rounded up to whole cache lines, plus one line when that is a multiple of
    /// the page size (so that consecutive matrices map to different cache sets).
    static package func offPage(_ floats: Int) -> Int {
        let lines = (floats + 15) / 16 * 16
        return lines % 1024 == 0 ? lines + 16 : lines
    }
}

/// Blocking of the Winograd convolution: tiles per block, so that a block's transformed
/// input and GEMM results (α²·(Cin + Cout) floats per tile) stay within a few megabytes
/// of cache, in whole units of the register tile.
package enum WinogradBlocking {
    /// Target bytes of a block's transformed input and GEMM results (tests shrink it).
    nonisolated(unsafe) static package var bytes = 4 << 20

    static package func tiles(total: Int, channels: Int, outChannels: Int, alpha: Int, unit: Int) -> Int {
        let perTile = alpha * alpha * (channels + outChannels) * 4
        let fit = max(unit, bytes / max(perTile, 1) / unit * unit)
        if total <= fit { return total }
        // Equal blocks of whole units.
        let blocks = (total + fit - 1) / fit
        return ((total + blocks - 1) / blocks + unit - 1) / unit * unit
    }
}

/// A float array copied to memory with a stable address for the kernels.
package struct AlignedCopy {
    package let pointer: UnsafeMutablePointer<Float>
    package init(_ values: [Float]) {
        pointer = .allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: values.count) } }
    }
    package func free() { pointer.deallocate() }
}
