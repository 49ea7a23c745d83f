extension Kernels {
    /// PyTorch's max_pool2d: x (N, C, H, W) → (N, C, Ho, Wo). Windows are scanned row by
    /// row and the first maximum wins ties (a NaN always wins), as PyTorch's CPU kernel.
    /// `indices`, when given, receives each output's argmax as a flat index into H·W.
    public static func maxPool2d(_ x: Tensor, _ a: MaxPool2dAttributes,
                                 indices: UnsafeMutablePointer<Int32>? = nil) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = windowExtent(h, kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: a.ceilMode)
        let wo = windowExtent(w, kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: a.ceilMode)
        let out = Tensor(uninitialized: [n, c, ho, wo])
        let xp = x.data, op = out.data
        // 3×3 windows with stride 2 (ResNet's stem) fully inside the plane: 16 outputs at a
        // time, the window scanned in the same order with the same comparison (same floats
        // and indices as the scalar loop).
        let stem = a.kernel == Pair2(3, 3) && a.stride == Pair2(2, 2) && a.dilation == Pair2(1, 1)
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let src = xp + plane * h * w, dst = op + plane * ho * wo
                let idx = indices.map { $0 + plane * ho * wo }
                for oy in 0..<ho {
                    var ox = 0
                    let top = oy * 2 - a.padding.h
                    if stem && top >= 0 && top + 3 <= h {
                        while ox < wo && 2 * ox - a.padding.w < 0 {
                            maxPoolOne(src, h, w, a, oy, ox, dst + oy * wo + ox, idx.map { $0 + oy * wo + ox })
                            ox += 1
                        }
                        while ox + 16 <= wo && 2 * ox - a.padding.w + 34 <= w {
                            maxPoolStem16(src, w, top, 2 * ox - a.padding.w, dst + oy * wo + ox, idx.map { $0 + oy * wo + ox })
                            ox += 16
                        }
                    }
                    while ox < wo {
                        maxPoolOne(src, h, w, a, oy, ox, dst + oy * wo + ox, idx.map { $0 + oy * wo + ox })
                        ox += 1
                    }
                }
            }
        }
        return out
    }

    /// One max-pool output: the window scanned row by row, the first maximum kept (a NaN
    /// always taken).
    @inline(__always)
    static package func maxPoolOne(_ src: UnsafePointer<Float>, _ h: Int, _ w: Int, _ a: MaxPool2dAttributes, _ oy: Int, _ ox: Int,
                           _ dst: UnsafeMutablePointer<Float>, _ index: UnsafeMutablePointer<Int32>?) {
        var y0 = oy * a.stride.h - a.padding.h
        let y1 = min(y0 + (a.kernel.h - 1) * a.dilation.h + 1, h)
        while y0 < 0 { y0 += a.dilation.h }
        var x0 = ox * a.stride.w - a.padding.w
        let x1 = min(x0 + (a.kernel.w - 1) * a.dilation.w + 1, w)
        while x0 < 0 { x0 += a.dilation.w }
        var best = -Float.infinity
        var bestIndex = y0 * w + x0
        var iy = y0
        while iy < y1 {
            var ix = x0
            while ix < x1 {
                let v = src[iy * w + ix]
                if v > best || v.isNaN { best = v; bestIndex = iy * w + ix }
                ix += a.dilation.w
            }
            iy += a.dilation.h
        }
        dst.pointee = best
        index?.pointee = Int32(bestIndex)
    }

    /// 16 outputs of a 3×3 stride-2 max pool whose windows (rows top..<top+3, columns
    /// left + 2j ..< left + 2j + 3) lie inside the plane and left + 34 ≤ w: the same scan and
    /// comparison as `maxPoolOne`, lane-wise.
    @inline(__always)
    static package func maxPoolStem16(_ src: UnsafePointer<Float>, _ w: Int, _ top: Int, _ left: Int,
                              _ dst: UnsafeMutablePointer<Float>, _ index: UnsafeMutablePointer<Int32>?) {
        typealias V = SIMD16<Float>
        typealias I = SIMD16<Int32>
        let lane2 = I(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
        func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var best = V(repeating: -.infinity), bestIndex = I(repeating: Int32(top * w + left)) &+ lane2
        for r in 0..<3 {
            let row = src + (top + r) * w + left
            let v0 = ld(row), v1 = ld(row + 16), u0 = ld(row + 2), u1 = ld(row + 18)
            let base = I(repeating: Int32((top + r) * w + left)) &+ lane2
            let c0 = V(lowHalf: v0.evenHalf, highHalf: v1.evenHalf)
            let c1 = V(lowHalf: v0.oddHalf, highHalf: v1.oddHalf)
            let c2 = V(lowHalf: u0.evenHalf, highHalf: u1.evenHalf)
            var take = (c0 .> best) .| (c0 .!= c0)
            best.replace(with: c0, where: take); bestIndex.replace(with: base, where: take)
            take = (c1 .> best) .| (c1 .!= c1)
            best.replace(with: c1, where: take); bestIndex.replace(with: base &+ 1, where: take)
            take = (c2 .> best) .| (c2 .!= c2)
            best.replace(with: c2, where: take); bestIndex.replace(with: base &+ 2, where: take)
        }
        UnsafeMutableRawPointer(dst).storeBytes(of: best, as: V.self)
        if let index { UnsafeMutableRawPointer(index).storeBytes(of: bestIndex, as: I.self) }
    }

    /// PyTorch's avg_pool2d (count_include_pad, ceil_mode, divisor_override honoured).
    public static func avgPool2d(_ x: Tensor, _ a: AvgPool2dAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = windowExtent(h, kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: 1, ceilMode: a.ceilMode)
        let wo = windowExtent(w, kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: 1, ceilMode: a.ceilMode)
        let out = Tensor(zeros: [n, c, ho, wo])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let src = xp + plane * h * w, dst = op + plane * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let win = avgPoolWindow(oy, ox, a, height: h, width: w)
                        if win.rows.isEmpty || win.cols.isEmpty { dst[oy * wo + ox] = 0; continue }
                        var sum: Float = 0
                        for iy in win.rows { for ix in win.cols { sum += src[iy * w + ix] } }
                        dst[oy * wo + ox] = sum / Float(win.divisor)
                    }
                }
            }
        }
        return out
    }

    /// PyTorch's avg_pool2d window of output (oy, ox): the input rows and columns it
    /// covers (clipped to the input) and the divisor of its sum (divisor_override, else the
    /// window size with or without the padding, per count_include_pad).
    @inlinable
    static package func avgPoolWindow(_ oy: Int, _ ox: Int, _ a: AvgPool2dAttributes, height h: Int, width w: Int)
        -> (rows: Range<Int>, cols: Range<Int>, divisor: Int) {
        let y0 = oy * a.stride.h - a.padding.h, y1 = min(y0 + a.kernel.h, h + a.padding.h)
        let x0 = ox * a.stride.w - a.padding.w, x1 = min(x0 + a.kernel.w, w + a.padding.w)
        let rows = max(y0, 0)..<max(min(y1, h), max(y0, 0)), cols = max(x0, 0)..<max(min(x1, w), max(x0, 0))
        let divisor = a.divisorOverride ?? (a.countIncludePad ? (y1 - y0) * (x1 - x0) : rows.count * cols.count)
        return (rows, cols, divisor)
    }

    /// PyTorch's adaptive window of output index `i`: [⌊i·n/m⌋, ⌈(i+1)·n/m⌉).
    @inlinable
    public static func adaptiveWindow(_ i: Int, input n: Int, output m: Int) -> Range<Int> {
        (i * n) / m ..< ((i + 1) * n + m - 1) / m
    }

    /// PyTorch's adaptive_avg_pool2d: x (N, C, H, W) → (N, C, outH, outW).
    public static func adaptiveAvgPool2d(_ x: Tensor, output o: Pair2) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = Tensor(zeros: [n, c, o.h, o.w])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let src = xp + plane * h * w, dst = op + plane * o.h * o.w
                for oy in 0..<o.h {
                    let ys = adaptiveWindow(oy, input: h, output: o.h)
                    for ox in 0..<o.w {
                        let xs = adaptiveWindow(ox, input: w, output: o.w)
                        var sum: Float = 0
                        for iy in ys { for ix in xs { sum += src[iy * w + ix] } }
                        dst[oy * o.w + ox] = sum / Float(ys.count * xs.count)
                    }
                }
            }
        }
        return out
    }

    /// Minimum (or maximum) over H and W: (N, C, H, W) → (N, C). NaN propagates.
    public static func spatialExtremum(_ x: Tensor, maximum: Bool) -> Tensor {
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let out = Tensor(zeros: [n, c])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c, minChunk: 64) { planes in
            for plane in planes {
                let src = xp + plane * hw
                var best = src[0]
                for i in 1..<max(hw, 1) {
                    let v = src[i]
                    if v.isNaN || (maximum ? v > best : v < best) { best = v }
                    if best.isNaN { break }
                }
                op[plane] = best
            }
        }
        return out
    }
}
